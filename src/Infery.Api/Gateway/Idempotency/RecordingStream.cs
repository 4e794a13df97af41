namespace Infery.Api.Gateway.Idempotency;

/// <summary>
/// Passes every write through to the response and keeps a copy, so the response can be replayed later — up to
/// <paramref name="maxBytes"/>: a longer response is passed through but not kept (<see cref="Overflowed"/>).
/// </summary>
public sealed class RecordingStream(Stream inner, int maxBytes) : Stream
{
    private readonly MemoryStream copy = new();

    public byte[] Recorded => copy.ToArray();

    public bool Overflowed { get; private set; }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Keep(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Keep(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        if (Overflowed)
            return;
        if (copy.Length + bytes.Length > maxBytes)
        {
            Overflowed = true;
            copy.SetLength(0);
            return;
        }
        copy.Write(bytes);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
