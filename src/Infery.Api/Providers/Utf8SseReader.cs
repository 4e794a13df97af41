using System.Buffers;
using System.Runtime.CompilerServices;

namespace Infery.Api.Providers;

/// <summary>
/// Reads the data of server-sent events from an upstream body as UTF-8, never decoding it to text. Lines end
/// at \n (a \r before it is dropped); comments and every field but data are read past; a data field's value
/// starts after the spaces that follow its colon; the data lines of one event are joined by \n; a blank line
/// ends the event. Events without data are skipped. As with <see cref="SseReader"/>, waiting longer than the
/// idle timeout for more of the body is a <see cref="ProviderFailure.Timeout"/>, and a connection that breaks
/// is <see cref="ProviderFailure.Unreachable"/>.
/// </summary>
public sealed class Utf8SseReader : IDisposable
{
    /// <summary>The longest line, and the most data one event may carry: a reply chunk is a few hundred bytes.</summary>
    public const int MaxEventBytes = 8 * 1024 * 1024;

    private readonly Stream body;
    private readonly TimeSpan idleTimeout;
    private readonly CancellationToken ct;
    private readonly CancellationTokenSource idle;
    private readonly ArrayBufferWriter<byte> data = new(1024);
    private byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int start; // where the next line starts
    private int end; // how far the body has been received
    private bool bodyEnded;
    private bool firstLine = true;

    public Utf8SseReader(Stream body, TimeSpan idleTimeout, CancellationToken ct)
    {
        this.body = body;
        this.idleTimeout = idleTimeout;
        this.ct = ct;
        idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
    }

    /// <summary>The data of the event last read. The next read reuses its buffer, so use it before reading on.</summary>
    public ReadOnlyMemory<byte> Data => data.WrittenMemory;

    /// <summary>
    /// Reads up to the end of the next event with data; false when the body ended first. Most reads wait for
    /// the upstream, so the state of the wait comes from a pool rather than being allocated per event.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadAsync()
    {
        data.ResetWrittenCount();
        while (!TryReadEvent())
        {
            if (bodyEnded)
                return EndLastEvent();
            await ReceiveAsync();
        }
        return true;
    }

    /// <summary>Takes the complete lines received so far, until one ends an event that has data.</summary>
    private bool TryReadEvent()
    {
        while (true)
        {
            var unread = buffer.AsSpan(start, end - start);
            var newline = unread.IndexOf((byte)'\n');
            if (newline < 0)
                return false;
            start += newline + 1;
            var line = WithoutPreamble(WithoutCarriageReturn(unread[..newline]));
            if (line.IsEmpty)
            {
                if (data.WrittenCount > 0)
                    return true;
                continue;
            }
            AddField(line);
        }
    }

    /// <summary>The body ended: its last line needs no newline, nor its last event a blank line.</summary>
    private bool EndLastEvent()
    {
        if (start < end)
        {
            var line = WithoutPreamble(WithoutCarriageReturn(buffer.AsSpan(start, end - start)));
            start = end;
            if (!line.IsEmpty)
                AddField(line);
        }
        return data.WrittenCount > 0;
    }

    private void AddField(ReadOnlySpan<byte> line)
    {
        if (line[0] == (byte)':')
            return;
        var colon = line.IndexOf((byte)':');
        var field = colon < 0 ? line : line[..colon];
        if (!field.SequenceEqual("data"u8))
            return;
        var value = colon < 0 ? default : line[(colon + 1)..].TrimStart((byte)' ');
        if (data.WrittenCount + value.Length + 1 > MaxEventBytes)
            throw TooLong();
        if (data.WrittenCount > 0)
            data.Write("\n"u8);
        data.Write(value);
    }

    private static ReadOnlySpan<byte> WithoutCarriageReturn(ReadOnlySpan<byte> line) =>
        line.EndsWith((byte)'\r') ? line[..^1] : line;

    /// <summary>A UTF-8 byte order mark may open the body, as a text reader would also skip.</summary>
    private ReadOnlySpan<byte> WithoutPreamble(ReadOnlySpan<byte> line)
    {
        if (!firstLine)
            return line;
        firstLine = false;
        return line.StartsWith("\uFEFF"u8) ? line[3..] : line;
    }

    /// <summary>
    /// Waits for more of the body. The idle timer is armed per read from the connection, not per line:
    /// lines that arrived together are taken without touching it.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReceiveAsync()
    {
        MakeRoom();
        idle.CancelAfter(idleTimeout);
        int received;
        try
        {
            received = await body.ReadAsync(buffer.AsMemory(end), idle.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ProviderException(ProviderFailure.Timeout, $"no data from the provider for {idleTimeout.TotalSeconds:0.#}s mid-stream");
        }
        catch (IOException e)
        {
            throw new ProviderException(ProviderFailure.Unreachable, "the provider's connection broke mid-stream", inner: e);
        }
        if (received == 0)
            bodyEnded = true;
        end += received;
    }

    /// <summary>Moves the unfinished line to the front of the buffer, and doubles the buffer if that line fills it.</summary>
    private void MakeRoom()
    {
        if (start > 0)
        {
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
        }
        if (end < buffer.Length)
            return;
        if (buffer.Length >= MaxEventBytes)
            throw TooLong();
        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
        buffer.AsSpan(0, end).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = larger;
    }

    /// <summary>A line or an event past <see cref="MaxEventBytes"/>, from either reader.</summary>
    internal static ProviderException TooLong() =>
        new(ProviderFailure.Malformed, $"the provider sent a stream event longer than {MaxEventBytes / (1024 * 1024)} MiB", 200);

    public void Dispose()
    {
        idle.Dispose();
        if (buffer.Length > 0)
            ArrayPool<byte>.Shared.Return(buffer);
        buffer = [];
    }
}
