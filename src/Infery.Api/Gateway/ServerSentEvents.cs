using System.Buffers;
using System.Text.Json;
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

    /// <summary>One event of a chat stream: UTF-8 exactly as an adapter wrote it, or an object written out.</summary>
    public static async ValueTask WriteChunkAsync(HttpResponse response, ChatJson data, CancellationToken ct)
    {
        var pipe = response.BodyWriter;
        pipe.Write("data: "u8);
        WriteJson(pipe, data);
        pipe.Write("\n\n"u8);
        await pipe.FlushAsync(ct);
    }

    /// <summary>A completion or chunk as JSON: the adapter's UTF-8 as it is, or its object serialised.</summary>
    public static void WriteJson(IBufferWriter<byte> output, ChatJson data)
    {
        if (data.Object is { } json)
        {
            using var writer = new Utf8JsonWriter(output, WriterOptions);
            json.WriteTo(writer);
        }
        else
            output.Write(data.Utf8.Span);
    }

    public static async ValueTask WriteDoneAsync(HttpResponse response, CancellationToken ct)
    {
        response.BodyWriter.Write("data: [DONE]\n\n"u8);
        await response.BodyWriter.FlushAsync(ct);
    }
}
