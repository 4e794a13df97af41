using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Infery.Api.Providers.Estimates;

/// <summary>
/// Decodes a base64 payload front to back, a piece at a time, as a stream reads: a header is read without
/// decoding what follows it, and a large payload is scanned without ever being held decoded whole.
/// Whitespace in the payload is skipped, as the request parser allows it.
/// </summary>
internal ref struct Base64Reader(ReadOnlySpan<char> base64)
{
    /// <summary>Characters narrowed to bytes per decoding step, on the stack.</summary>
    private const int Window = 4096;

    private ReadOnlySpan<char> rest = base64;

    /// <summary>Decoded bytes of a group of three that did not fit the last read, held for the next.</summary>
    private int held;
    private int heldCount;

    /// <summary>The decoded size of a payload, from its length alone: an upper bound, as padding and whitespace decode to nothing.</summary>
    public static long DecodedLength(ReadOnlySpan<char> base64) => base64.Length * 3L / 4;

    public readonly bool AtEnd => rest.IsEmpty && heldCount == 0;

    /// <summary>Fills <paramref name="destination"/>; fewer bytes only where the payload ends or stops being base64.</summary>
    public int Read(scoped Span<byte> destination)
    {
        var written = TakeHeld(destination);
        var wholeGroups = (destination.Length - written) / 3 * 3;
        written += DecodeGroups(destination.Slice(written, wholeGroups));
        if (written < destination.Length && !rest.IsEmpty)
        {
            // One or two bytes short of a group: decode the group and keep what does not fit.
            Span<byte> group = stackalloc byte[3];
            var decoded = DecodeGroups(group);
            var used = Math.Min(decoded, destination.Length - written);
            group[..used].CopyTo(destination[written..]);
            written += used;
            held = 0;
            for (var i = decoded - 1; i >= used; i--)
                held = (held << 8) | group[i];
            heldCount = decoded - used;
        }
        return written;
    }

    /// <summary>Passes over <paramref name="count"/> bytes; fewer where the payload ends.</summary>
    public long Skip(long count)
    {
        Span<byte> scratch = stackalloc byte[Window];
        long skipped = 0;
        while (skipped < count)
        {
            var read = Read(scratch[..(int)Math.Min(count - skipped, scratch.Length)]);
            if (read == 0)
                break;
            skipped += read;
        }
        return skipped;
    }

    private int TakeHeld(scoped Span<byte> destination)
    {
        var taken = 0;
        for (; taken < destination.Length && heldCount > 0; taken++, heldCount--)
        {
            destination[taken] = (byte)held;
            held >>= 8;
        }
        return taken;
    }

    /// <summary>Decodes whole groups of three bytes into <paramref name="destination"/>, a window of characters at a time.</summary>
    private int DecodeGroups(scoped Span<byte> destination)
    {
        Span<byte> ascii = stackalloc byte[Window];
        var written = 0;
        while (written < destination.Length && !rest.IsEmpty)
        {
            var take = Math.Min(rest.Length, Window);
            if (Ascii.FromUtf16(rest[..take], ascii, out _) != OperationStatus.Done)
            {
                rest = default;
                break;
            }
            var status = Base64.DecodeFromUtf8(ascii[..take], destination[written..], out var consumed, out var decoded, isFinalBlock: take == rest.Length);
            written += decoded;
            rest = rest[consumed..];
            if (status == OperationStatus.DestinationTooSmall)
                break;
            if (status == OperationStatus.InvalidData || consumed == 0)
            {
                rest = default;
                break;
            }
        }
        return written;
    }
}
