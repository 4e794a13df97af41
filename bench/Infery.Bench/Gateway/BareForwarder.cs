using System.Buffers;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Infery.Bench.Gateway;

/// <summary>
/// The least a proxy on the gateway's stack can do: Kestrel takes the request, reads its body, and an HttpClient
/// (SocketsHttpHandler) sends that body to the upstream; the status, content type and body come back as they
/// arrive, each read of a stream passed on at once. No parsing, no key, no billing. The benchmark runs it as a
/// process of its own, like the gateway, to show what a hop alone costs on the same machine.
/// </summary>
public static class BareForwarder
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public static async Task<int> RunAsync(Arguments args)
    {
        var upstream = new Uri(args.Text("upstream") ?? throw new ArgumentException("--upstream is required"));
        var urls = args.Text("urls") ?? throw new ArgumentException("--urls is required");
        args.RejectUnknown();

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls).UseKestrel(kestrel => kestrel.AddServerHeader = false);
        var app = builder.Build();
        using var client = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = 1024,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var chatCompletions = new Uri(upstream, "chat/completions");
        app.MapGet("/health/ready", () => Results.Ok());
        app.MapPost("/v1/chat/completions", (HttpContext http) => ForwardAsync(http, client, chatCompletions));
        await app.RunAsync();
        return 0;
    }

    private static async Task ForwardAsync(HttpContext http, HttpClient client, Uri target)
    {
        var body = await ReadBodyAsync(http.Request);
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        using var answer = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, http.RequestAborted);

        var response = http.Response;
        response.StatusCode = (int)answer.StatusCode;
        response.ContentType = answer.Content.Headers.ContentType?.ToString();
        response.ContentLength = answer.Content.Headers.ContentLength;
        await using var content = await answer.Content.ReadAsStreamAsync(http.RequestAborted);
        await content.CopyToAsync(response.Body, http.RequestAborted);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync();
            if (read.IsCompleted)
            {
                var body = read.Buffer.ToArray();
                reader.AdvanceTo(read.Buffer.End);
                return body;
            }
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }
}
