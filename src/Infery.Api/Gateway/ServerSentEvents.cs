using System.Buffers;
using Infery.Api.Providers;

namespace Infery.Api.Gateway;

/// <summary>
/// Writes "data: {json}\n\n" events into the response pipe. Writing does not send; the caller flushes when
/// nothing more is ready, so events that are at hand leave together and none waits on anything slower.
/// </summary>
public static class ServerSentEvents
{
    public static void Start(HttpResponse response)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["x-accel-buffering"] = "no";
    }

    /// <summary>One event of a chat stream: UTF-8 exactly as an adapter wrote it, or an object written out.</summary>
    public static void WriteChunk(HttpResponse response, ChatJson data)
    {
        var pipe = response.BodyWriter;
        if (data.Object is null)
        {
            // One reservation of the server's buffer per event, rather than one per part: each takes its lock.
            var json = data.Utf8.Span;
            var length = Prefix.Length + json.Length + Suffix.Length;
            var span = pipe.GetSpan(length);
            Prefix.CopyTo(span);
            json.CopyTo(span[Prefix.Length..]);
            Suffix.CopyTo(span[(Prefix.Length + json.Length)..]);
            pipe.Advance(length);
            return;
        }
        pipe.Write(Prefix);
        data.WriteTo(pipe);
        pipe.Write(Suffix);
    }

    private static ReadOnlySpan<byte> Prefix => "data: "u8;
    private static ReadOnlySpan<byte> Suffix => "\n\n"u8;

    public static void WriteDone(HttpResponse response) => response.BodyWriter.Write("data: [DONE]\n\n"u8);

    /// <summary>Events at hand are held back at most this much before they are sent anyway.</summary>
    private const int MaxHeldBytes = 16 * 1024;

    /// <summary>Whether to send what is written now: the next event is not here yet, or enough is held back.</summary>
    public static bool SendBefore<T>(HttpResponse response, ValueTask<T> next) =>
        !next.IsCompleted || response.BodyWriter is { CanGetUnflushedBytes: true, UnflushedBytes: >= MaxHeldBytes };

    /// <summary>
    /// Sends what is written while <paramref name="next"/> is still coming. If sending fails (the client left),
    /// <paramref name="next"/> is awaited before the failure is thrown, so its source is idle when it is disposed.
    /// </summary>
    public static async ValueTask FlushWhileAwaitingAsync<T>(HttpResponse response, ValueTask<T> next, CancellationToken ct)
    {
        try
        {
            await response.BodyWriter.FlushAsync(ct);
        }
        catch
        {
            try
            {
                await next;
            }
            catch (Exception)
            {
                // The failed send is what the caller hears about; the source's own ending does not matter here.
            }
            throw;
        }
    }
}
