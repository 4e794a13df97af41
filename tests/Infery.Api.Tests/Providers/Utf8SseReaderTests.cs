using System.Text;
using Infery.Api.Providers;

namespace Infery.Api.Tests.Providers;

public sealed class Utf8SseReaderTests
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(5);

    public static TheoryData<string> Bodies => new()
    {
        "data: {\"a\":1}\n\n",
        "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n",
        "data: first\ndata: second\n\n",
        ": keep-alive\n\nevent: message\nid: 7\nretry: 10\ndata:no-space\n\n",
        "data:    several spaces\n\n",
        "data\ndata: after a field without colon\n\n",
        "data:\ndata: after empty data\n\n",
        "data: é ☃ 😀\n\n",
        "data: a\n\n\n\ndata: b\n\n",
        "data: the last event needs no blank line\n",
        "data: nor the last line a newline",
        "data: nor its\r\ndata: carriage return\r",
        "event: ping\n\nevent: ping\ndata: \n\n",
        "\uFEFFdata: after a byte order mark\n\n",
        ":comment only\n",
        "",
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task Every_event_with_data_reads_as_the_text_reader_reads_it_however_the_body_is_split(string raw)
    {
        var expected = new List<string>();
        await foreach (var sse in SseReader.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(raw)), Idle, default))
            if (sse.Data.Length > 0)
                expected.Add(sse.Data);

        foreach (var size in new[] { 1, 2, 3, 5, 8, 1 << 20 })
            (await ReadAll(new PiecewiseBody(Pieces(raw, size)))).ShouldBe(expected, $"in pieces of {size} bytes");
    }

    [Fact]
    public async Task Data_lines_are_joined_by_newlines_and_comments_and_other_fields_are_read_past()
    {
        var raw = ": ping\r\nevent: chunk\r\nid: 1\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata: [DONE]\r\n\r\n";

        (await ReadAll(new PiecewiseBody([Encoding.UTF8.GetBytes(raw)]))).ShouldBe(["{\"a\":\n1}", "[DONE]"]);
    }

    [Fact]
    public async Task A_data_line_split_across_two_reads_is_read_whole()
    {
        var body = new PiecewiseBody(["data: {\"content\":\"Hel"u8.ToArray(), "lo\"}\n\ndata: [DONE]\n\n"u8.ToArray()]);

        (await ReadAll(body)).ShouldBe(["{\"content\":\"Hello\"}", "[DONE]"]);
    }

    [Fact]
    public async Task A_line_longer_than_the_buffer_is_read_whole()
    {
        var content = new string('x', 100_000);

        (await ReadAll(new PiecewiseBody(Pieces($"data: {content}\n\n", 4096)))).ShouldBe([content]);
    }

    [Theory]
    [InlineData("data: {0}")]
    [InlineData("data: {0}\n\n")]
    [InlineData("data: {1}\ndata: {1}\ndata: {1}\n\n")]
    public async Task An_event_longer_than_the_limit_is_a_malformed_reply_not_unbounded_memory(string shape)
    {
        var whole = new string('x', Utf8SseReader.MaxEventBytes + 1);
        var third = new string('x', Utf8SseReader.MaxEventBytes / 3 + 1);
        var raw = string.Format(shape, whole, third);

        var error = await Should.ThrowAsync<ProviderException>(() => ReadAll(new PiecewiseBody(Pieces(raw, 64 * 1024))));

        error.Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Theory]
    [InlineData("data: {0}")]
    [InlineData("data: {0}\n\n")]
    [InlineData(": {0}\n\ndata: ok\n\n")]
    [InlineData("data: {1}\ndata: {1}\ndata: {1}\n\n")]
    public async Task The_text_reader_refuses_a_line_or_an_event_over_the_limit_too(string shape)
    {
        var raw = string.Format(shape, new string('x', Utf8SseReader.MaxEventBytes + 1), new string('x', Utf8SseReader.MaxEventBytes / 3 + 1));

        var error = await Should.ThrowAsync<ProviderException>(async () =>
        {
            await foreach (var _ in SseReader.ReadAsync(new PiecewiseBody(Pieces(raw, 64 * 1024)), Idle, default))
            {
            }
        });

        error.Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Fact]
    public async Task The_text_reader_reads_lines_up_to_the_limit()
    {
        var content = new string('x', Utf8SseReader.MaxEventBytes - 16);
        var events = new List<string>();

        await foreach (var sse in SseReader.ReadAsync(new PiecewiseBody(Pieces($"data: {content}\n\ndata: next\n\n", 64 * 1024)), Idle, default))
            events.Add(sse.Data);

        events.ShouldBe([content, "next"]);
    }

    [Fact]
    public async Task Each_event_is_valid_until_the_next_read()
    {
        using var reader = new Utf8SseReader(new PiecewiseBody(["data: one\n\ndata: two\n\n"u8.ToArray()]), Idle, default);

        (await reader.ReadAsync()).ShouldBeTrue();
        Encoding.UTF8.GetString(reader.Data.Span).ShouldBe("one");
        (await reader.ReadAsync()).ShouldBeTrue();
        Encoding.UTF8.GetString(reader.Data.Span).ShouldBe("two");
        (await reader.ReadAsync()).ShouldBeFalse();
        (await reader.ReadAsync()).ShouldBeFalse();
    }

    [Fact]
    public async Task A_body_that_goes_quiet_is_a_timeout()
    {
        var body = new PiecewiseBody(["data: one\n\n"u8.ToArray()], then: async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        });
        using var reader = new Utf8SseReader(body, TimeSpan.FromMilliseconds(200), default);

        (await reader.ReadAsync()).ShouldBeTrue();
        var failure = await Should.ThrowAsync<ProviderException>(() => reader.ReadAsync().AsTask());

        failure.Failure.ShouldBe(ProviderFailure.Timeout);
        failure.Message.ShouldBe("no data from the provider for 0.2s mid-stream");
    }

    [Fact]
    public async Task The_idle_timeout_counts_from_each_read_not_from_the_start()
    {
        var pieces = Enumerable.Range(0, 30).Select(i => Encoding.UTF8.GetBytes($"data: {i}\n\n")).ToArray();
        var body = new PiecewiseBody(pieces, gap: TimeSpan.FromMilliseconds(50));

        var data = await ReadAll(body, idle: TimeSpan.FromSeconds(1));

        data.Count.ShouldBe(30);
    }

    [Fact]
    public async Task A_connection_that_breaks_is_unreachable()
    {
        var body = new PiecewiseBody(["data: one\n\n"u8.ToArray()], then: _ => throw new IOException("connection reset"));

        var failure = await Should.ThrowAsync<ProviderException>(() => ReadAll(body));

        failure.Failure.ShouldBe(ProviderFailure.Unreachable);
        failure.InnerException.ShouldBeOfType<IOException>();
    }

    [Fact]
    public async Task The_callers_cancellation_is_not_a_timeout()
    {
        using var cancel = new CancellationTokenSource();
        var body = new PiecewiseBody([], then: async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        });
        using var reader = new Utf8SseReader(body, Idle, cancel.Token);

        var read = reader.ReadAsync().AsTask();
        await cancel.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => read);
    }

    private static async Task<List<string>> ReadAll(Stream body, TimeSpan? idle = null)
    {
        using var reader = new Utf8SseReader(body, idle ?? Idle, default);
        var events = new List<string>();
        while (await reader.ReadAsync())
            events.Add(Encoding.UTF8.GetString(reader.Data.Span));
        return events;
    }

    private static IEnumerable<byte[]> Pieces(string raw, int size) => Encoding.UTF8.GetBytes(raw).Chunk(size);

    /// <summary>A body that arrives in the given pieces, one per read, then ends, or does what <c>then</c> does.</summary>
    private sealed class PiecewiseBody(IEnumerable<byte[]> pieces, Func<CancellationToken, Task<int>>? then = null, TimeSpan gap = default) : Stream
    {
        private readonly Queue<byte[]> queue = new(pieces);
        private ReadOnlyMemory<byte> rest;

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
        {
            if (rest.IsEmpty)
            {
                if (!queue.TryDequeue(out var piece))
                    return then is null ? 0 : await then(ct);
                if (gap > TimeSpan.Zero)
                    await Task.Delay(gap, ct);
                rest = piece;
            }
            var length = Math.Min(rest.Length, destination.Length);
            rest[..length].CopyTo(destination);
            rest = rest[length..];
            return length;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
