using System.Buffers;

namespace Infery.Api.Providers.Estimates;

/// <summary>
/// How many pages a base64 PDF has, found without a PDF parser: each page is a dictionary with
/// <c>/Type /Page</c>, and the page tree's root states the total as <c>/Count n</c>; names are read with their
/// <c>#xx</c> escapes decoded. The payload is decoded a piece at a time and scanned as it goes.
/// </summary>
internal static class PdfPages
{
    /// <summary>A PDF whose pages cannot be found is taken as one page per this many bytes: text pages rarely take less.</summary>
    public const int BytesPerPageWhenHidden = 3_000;

    /// <summary>Bytes decoded and scanned at a time.</summary>
    public const int Piece = 48 * 1024;

    /// <summary>Bytes kept from the end of one piece for the next, so a name cut by the boundary is read whole; longer than any name and value read.</summary>
    private const int Overlap = 64;

    public static long Count(ReadOnlySpan<char> base64)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Overlap + Piece);
        try
        {
            var reader = new Base64Reader(base64);
            long size = 0, pages = 0, largestCount = 0;
            var kept = 0;
            while (true)
            {
                var read = reader.Read(buffer.AsSpan(kept, Piece));
                size += read;
                var end = kept + read;
                var last = read < Piece;
                // A mark starting in the last bytes of a piece is read in the next, where it is whole.
                Scan(buffer.AsSpan(0, end), last ? end : end - Overlap, ref pages, ref largestCount);
                if (last)
                    break;
                buffer.AsSpan(end - Overlap, Overlap).CopyTo(buffer);
                kept = Overlap;
            }
            // Pages packed into compressed object streams do not show their /Type; the page tree's /Count may still.
            // The larger of the two counts, so a PDF that hides some of its pages is not counted short.
            if (Math.Max(pages, largestCount) is > 0 and var found)
                return found;
            return Math.Max(1, (size + BytesPerPageWhenHidden - 1) / BytesPerPageWhenHidden);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Counts the <c>/Type /Page</c> entries and the largest <c>/Count</c> that start before <paramref name="startsBefore"/>.</summary>
    private static void Scan(ReadOnlySpan<byte> pdf, int startsBefore, ref long pages, ref long largestCount)
    {
        Span<byte> name = stackalloc byte[MaxNameRead];
        for (var at = 0; at < startsBefore;)
        {
            var found = pdf[at..startsBefore].IndexOf((byte)'/');
            if (found < 0)
                return;
            at += found;
            var after = ReadName(pdf[at..], name, out var length);
            if (name[..length].SequenceEqual("Type"u8) && SkipWhitespace(after) is [(byte)'/', ..] value)
            {
                ReadName(value, name, out length);
                if (name[..length].SequenceEqual("Page"u8))
                    pages++;
            }
            else if (name[..length].SequenceEqual("Count"u8))
            {
                largestCount = Math.Max(largestCount, ReadNumber(SkipWhitespace(after)));
            }
            at++;
        }
    }

    /// <summary>Longer than any name looked for; a longer one is none of them.</summary>
    private const int MaxNameRead = 8;

    /// <summary>
    /// The name that <paramref name="pdf"/> starts with (at its slash), with <c>#xx</c> escapes decoded as PDF
    /// readers decode them, so <c>/Ty#70e</c> is <c>/Type</c>. Returns what follows the name; a name too long to be
    /// one looked for comes back with a length of zero.
    /// </summary>
    private static ReadOnlySpan<byte> ReadName(ReadOnlySpan<byte> pdf, Span<byte> name, out int length)
    {
        length = 0;
        var i = 1;
        for (; i < pdf.Length && IsRegular(pdf[i]); i++)
        {
            var b = pdf[i];
            if (b == '#' && i + 2 < pdf.Length && byte.TryParse(pdf.Slice(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var escaped))
            {
                b = escaped;
                i += 2;
            }
            if (length < name.Length)
                name[length] = b;
            length++;
        }
        if (length > name.Length)
            length = 0;
        return pdf[i..];
    }

    private static long ReadNumber(ReadOnlySpan<byte> value)
    {
        long number = 0;
        for (var i = 0; i < value.Length && i < 9 && char.IsAsciiDigit((char)value[i]); i++)
            number = number * 10 + (value[i] - '0');
        return number;
    }

    private static ReadOnlySpan<byte> SkipWhitespace(ReadOnlySpan<byte> pdf)
    {
        var i = 0;
        while (i < pdf.Length && IsWhitespace(pdf[i]))
            i++;
        return pdf[i..];
    }

    private static bool IsWhitespace(byte b) => b is 0 or (byte)'\t' or (byte)'\n' or 0x0C or (byte)'\r' or (byte)' ';

    /// <summary>A byte that continues a name: neither whitespace nor one of PDF's delimiters.</summary>
    private static bool IsRegular(byte b) => !IsWhitespace(b) && b is not ((byte)'(' or (byte)')' or (byte)'<' or (byte)'>' or (byte)'[' or (byte)']'
        or (byte)'{' or (byte)'}' or (byte)'/' or (byte)'%');
}
