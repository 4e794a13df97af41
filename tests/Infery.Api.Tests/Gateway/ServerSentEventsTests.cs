using System.Text;
using Infery.Api.Gateway;
using Infery.Api.Providers;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Gateway;

/// <summary>
/// A stream's events are sent when nothing more is at hand: events that arrived together leave together,
/// none waits for the upstream, and no more than a few KiB is ever held back.
/// </summary>
public sealed class ServerSentEventsTests
{
    [Fact]
    public void Written_events_are_sent_before_waiting_for_the_next()
    {
        var response = Response(new MemoryStream());
        ServerSentEvents.WriteChunk(response, Chunk("hello"));

        ServerSentEvents.SendBefore(response, new ValueTask<bool>(new TaskCompletionSource<bool>().Task)).ShouldBeTrue();
    }

    [Fact]
    public void Written_events_wait_for_the_next_one_that_is_already_here()
    {
        var response = Response(new MemoryStream());
        ServerSentEvents.WriteChunk(response, Chunk("hello"));

        ServerSentEvents.SendBefore(response, ValueTask.FromResult(true)).ShouldBeFalse();
    }

    [Fact]
    public void Events_at_hand_are_sent_anyway_once_16_KiB_are_held()
    {
        var response = Response(new MemoryStream());
        var next = ValueTask.FromResult(true);
        var written = 0;
        while (!ServerSentEvents.SendBefore(response, next))
        {
            // "data: " + {"w":"…"} + two newlines: 1 KiB exactly.
            ServerSentEvents.WriteChunk(response, Chunk(new string('x', 1024 - 16)));
            written++;
        }

        written.ShouldBe(16);
    }

    [Fact]
    public async Task Events_held_together_reach_the_client_in_order_in_one_send()
    {
        var client = new CountingStream();
        var response = Response(client);
        foreach (var word in new[] { "one", "two", "three" })
            ServerSentEvents.WriteChunk(response, Chunk(word));
        ServerSentEvents.WriteDone(response);

        await ServerSentEvents.FlushWhileAwaitingAsync(response, ValueTask.FromResult(false), CancellationToken.None);

        client.Writes.ShouldBe(1);
        Encoding.UTF8.GetString(client.ToArray()).ShouldBe(
            "data: {\"w\":\"one\"}\n\ndata: {\"w\":\"two\"}\n\ndata: {\"w\":\"three\"}\n\ndata: [DONE]\n\n");
    }

    [Fact]
    public async Task A_failed_send_is_thrown_only_after_the_pending_read_has_ended()
    {
        var response = Response(new BrokenStream());
        ServerSentEvents.WriteChunk(response, Chunk("hello"));
        var upstreamRead = new TaskCompletionSource<bool>();

        var flush = ServerSentEvents.FlushWhileAwaitingAsync(response, new ValueTask<bool>(upstreamRead.Task), CancellationToken.None).AsTask();
        await Task.Delay(50);
        flush.IsCompleted.ShouldBeFalse("the upstream read is still pending, so its source cannot be disposed yet");

        upstreamRead.SetException(new OperationCanceledException());
        await Should.ThrowAsync<IOException>(flush);
    }

    private static HttpResponse Response(Stream client)
    {
        var context = new DefaultHttpContext();
        context.Response.Body = client;
        return context.Response;
    }

    private static ChatJson Chunk(string word) => ChatJson.FromUtf8(Encoding.UTF8.GetBytes($"{{\"w\":\"{word}\"}}"), word.Length);

    private sealed class CountingStream : MemoryStream
    {
        public int Writes { get; private set; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            return base.WriteAsync(buffer, cancellationToken);
        }
    }

    private sealed class BrokenStream : MemoryStream
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new IOException("the client is gone"));
    }
}
