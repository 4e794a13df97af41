using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Infery.Bench.Gateway;

/// <summary>
/// An OpenAI-compatible upstream that does as little as possible: it reads the body, looks for
/// <c>"stream":true</c>, and answers with byte arrays built once at start. Non-streaming: one chat.completion
/// with usage. Streaming: <c>chunks</c> content chunks (the last one finishing), a usage chunk, then [DONE],
/// each flushed on its own as a real upstream would send tokens.
/// </summary>
public sealed class MockUpstream : IAsyncDisposable
{
    public const int PromptTokens = 12;

    private static readonly byte[] StreamMarker = "\"stream\":true"u8.ToArray();

    private readonly WebApplication app;
    private readonly byte[] completion;
    private readonly byte[][] streamEvents;

    private MockUpstream(WebApplication app, int chunks)
    {
        this.app = app;
        ChunkCount = chunks;
        completion = BuildCompletion(chunks);
        streamEvents = BuildStream(chunks);
    }

    public Uri BaseUrl { get; private set; } = null!;

    public int ChunkCount { get; }

    /// <summary>Bytes of one streamed answer, for the report.</summary>
    public int StreamBytes => streamEvents.Sum(e => e.Length);

    public int CompletionBytes => completion.Length;

    public static async Task<MockUpstream> StartAsync(int chunks)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        var mock = new MockUpstream(app, chunks);
        app.Run(mock.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        mock.BaseUrl = new Uri(address.TrimEnd('/') + "/v1/");
        return mock;
    }

    private async Task HandleAsync(HttpContext http)
    {
        if (!HttpMethods.IsPost(http.Request.Method) || !http.Request.Path.Equals("/v1/chat/completions", StringComparison.Ordinal))
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var streaming = await RequestsStreamAsync(http.Request);
        var response = http.Response;
        if (!streaming)
        {
            response.ContentType = "application/json";
            response.ContentLength = completion.Length;
            await response.Body.WriteAsync(completion, http.RequestAborted);
            return;
        }

        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        foreach (var sse in streamEvents)
        {
            await response.BodyWriter.WriteAsync(sse, http.RequestAborted);
        }
        await response.BodyWriter.FlushAsync(http.RequestAborted);
    }

    /// <summary>Reads the whole body (an upstream must) and reports whether it asks for a stream.</summary>
    private static async Task<bool> RequestsStreamAsync(HttpRequest request)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync();
            if (read.IsCompleted)
            {
                var found = Contains(read.Buffer, StreamMarker);
                reader.AdvanceTo(read.Buffer.End);
                return found;
            }
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    private static bool Contains(System.Buffers.ReadOnlySequence<byte> buffer, byte[] marker) =>
        buffer.IsSingleSegment
            ? buffer.FirstSpan.IndexOf(marker) >= 0
            : System.Buffers.BuffersExtensions.ToArray(buffer).AsSpan().IndexOf(marker) >= 0;

    private static string Word(int i) => i == 0 ? "Hello" : $" w{i}";

    private static byte[] BuildCompletion(int chunks)
    {
        var text = string.Concat(Enumerable.Range(0, chunks).Select(Word));
        return Encoding.UTF8.GetBytes(
            "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"created\":1767225600,\"model\":\"mock-model\"," +
            "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + text + "\"},\"finish_reason\":\"stop\"}]," +
            $"\"usage\":{{\"prompt_tokens\":{PromptTokens},\"completion_tokens\":{chunks},\"total_tokens\":{PromptTokens + chunks}}}}}");
    }

    private static byte[][] BuildStream(int chunks)
    {
        const string head = "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"mock-model\",";
        var events = new List<byte[]>();
        for (var i = 0; i < chunks; i++)
        {
            var role = i == 0 ? "\"role\":\"assistant\"," : "";
            var finish = i == chunks - 1 ? "\"stop\"" : "null";
            events.Add(Encoding.UTF8.GetBytes(
                head + $"\"choices\":[{{\"index\":0,\"delta\":{{{role}\"content\":\"{Word(i)}\"}},\"finish_reason\":{finish}}}]}}\n\n"));
        }
        events.Add(Encoding.UTF8.GetBytes(
            head + $"\"choices\":[],\"usage\":{{\"prompt_tokens\":{PromptTokens},\"completion_tokens\":{chunks},\"total_tokens\":{PromptTokens + chunks}}}}}\n\n"));
        events.Add("data: [DONE]\n\n"u8.ToArray());
        return [.. events];
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
