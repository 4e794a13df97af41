using System.Runtime.CompilerServices;
using System.Text;

namespace Infery.Api.Providers;

/// <summary>One server-sent event: its name (null when the stream does not name events) and its data lines joined.</summary>
public readonly record struct SseEvent(string? Event, string Data);

/// <summary>
/// Reads server-sent events from an upstream body. Waiting longer than the idle timeout for the next line
/// is a <see cref="ProviderFailure.Timeout"/>; a connection that breaks is <see cref="ProviderFailure.Unreachable"/>;
/// a line or an event's data longer than <see cref="Utf8SseReader.MaxEventBytes"/> is <see cref="ProviderFailure.Malformed"/>.
/// </summary>
public static class SseReader
{
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream body, TimeSpan idleTimeout, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(new LineLimitedStream(body), Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 8192);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        string? name = null;
        var data = new StringBuilder();
        while (true)
        {
            idle.CancelAfter(idleTimeout);
            string? line;
            try
            {
                line = await reader.ReadLineAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new ProviderException(ProviderFailure.Timeout, $"no data from the provider for {idleTimeout.TotalSeconds:0.#}s mid-stream");
            }
            catch (IOException e)
            {
                throw new ProviderException(ProviderFailure.Unreachable, "the provider's connection broke mid-stream", inner: e);
            }

            if (line is null)
            {
                if (data.Length > 0)
                    yield return new SseEvent(name, data.ToString());
                yield break;
            }
            if (line.Length == 0)
            {
                if (data.Length > 0 || name is not null)
                    yield return new SseEvent(name, data.ToString());
                name = null;
                data.Clear();
                continue;
            }
            if (line[0] == ':')
                continue;
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            if (field == "event")
                name = value;
            else if (field == "data")
            {
                if (data.Length > 0)
                    data.Append('\n');
                data.Append(value);
                if (data.Length > Utf8SseReader.MaxEventBytes)
                    throw Utf8SseReader.TooLong();
            }
        }
    }

    /// <summary>
    /// The body as it is, except that a line growing past the limit fails the read: a line reader would
    /// otherwise keep buffering an upstream that never sends a line break.
    /// </summary>
    private sealed class LineLimitedStream(Stream inner) : Stream
    {
        private long sinceLineBreak;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            var received = buffer.Span[..read];
            // Only the line that began in an earlier read can be long: the others fit in this one.
            var firstBreak = received.IndexOf((byte)'\n');
            var continuedLine = sinceLineBreak + (firstBreak < 0 ? read : firstBreak);
            if (continuedLine > Utf8SseReader.MaxEventBytes)
                throw Utf8SseReader.TooLong();
            sinceLineBreak = firstBreak < 0 ? continuedLine : read - received.LastIndexOf((byte)'\n') - 1;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
