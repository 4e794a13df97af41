using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Infery.Api.Tests.Fakes;

/// <summary>
/// A real HTTP server on a loopback port that plays a provider: each test sets the handler that answers,
/// in that provider's documented wire format, and can read what the gateway sent it.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly List<(string Path, string Body, IHeaderDictionary Headers)> received = [];
    private int calls;

    private FakeUpstream(WebApplication app) => this.app = app;

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>How the fake answers; replace it at any time.</summary>
    public RequestDelegate Handler { get; set; } = ctx => { ctx.Response.StatusCode = 500; return Task.CompletedTask; };

    public int Calls => Volatile.Read(ref calls);

    public IReadOnlyList<(string Path, string Body, IHeaderDictionary Headers)> Received
    {
        get { lock (received) return received.ToArray(); }
    }

    public static async Task<FakeUpstream> StartAsync(RequestDelegate? handler = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeUpstream(app);
        if (handler is not null)
            fake.Handler = handler;
        app.Run(async ctx =>
        {
            Interlocked.Increment(ref fake.calls);
            ctx.Request.EnableBuffering();
            var body = await new StreamReader(ctx.Request.Body).ReadToEndAsync();
            ctx.Request.Body.Position = 0;
            lock (fake.received)
                fake.received.Add((ctx.Request.Path + ctx.Request.QueryString, body, new HeaderDictionary(ctx.Request.Headers.ToDictionary())));
            await fake.Handler(ctx);
        });
        await app.StartAsync();
        fake.BaseUrl = new Uri(app.Urls.First().TrimEnd('/') + "/");
        return fake;
    }

    /// <summary>Writes server-sent events, flushing after each so the client sees them one by one.</summary>
    public static async Task WriteSseAsync(HttpContext ctx, IEnumerable<string> rawEvents, TimeSpan? delay = null)
    {
        ctx.Response.ContentType = "text/event-stream";
        foreach (var raw in rawEvents)
        {
            await ctx.Response.WriteAsync(raw);
            await ctx.Response.Body.FlushAsync();
            if (delay is { } d)
                await Task.Delay(d);
        }
    }

    /// <summary>Drops the connection without a response, as a crashed upstream would.</summary>
    public static void Reset(HttpContext ctx) => ctx.Abort();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
