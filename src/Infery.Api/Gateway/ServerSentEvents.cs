using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Providers;

namespace Infery.Api.Gateway;

/// <summary>Writes "data: {json}\n\n" events straight into the response pipe, flushing each so the client sees it at once.</summary>
public static class ServerSentEvents
{
    /// <summary>Plain UTF-8 as upstreams send it, rather than \u0022-style escapes.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Start(HttpResponse response)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["x-accel-buffering"] = "no";
    }

    public static async ValueTask WriteAsync(HttpResponse response, JsonNode data, CancellationToken ct)
    {
        var pipe = response.BodyWriter;
        pipe.Write("data: "u8);
        using (var json = new Utf8JsonWriter(pipe, WriterOptions))
            data.WriteTo(json);
        pipe.Write("\n\n"u8);
        await pipe.FlushAsync(ct);
    }

    /// <summary>One event of a chat stream: UTF-8 exactly as an adapter wrote it, or an object written out.</summary>
    public static async ValueTask WriteChunkAsync(HttpResponse response, ChatJson data, CancellationToken ct)
    {
        if (data.Object is { } json)
        {
            await WriteAsync(response, json, ct);
            return;
        }
        var pipe = response.BodyWriter;
        pipe.Write("data: "u8);
        pipe.Write(data.Utf8.Span);
        pipe.Write("\n\n"u8);
        await pipe.FlushAsync(ct);
    }

    public static async ValueTask WriteDoneAsync(HttpResponse response, CancellationToken ct)
    {
        response.BodyWriter.Write("data: [DONE]\n\n"u8);
        await response.BodyWriter.FlushAsync(ct);
    }
}
