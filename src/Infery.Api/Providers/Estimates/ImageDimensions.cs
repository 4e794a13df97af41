using System.Buffers.Binary;

namespace Infery.Api.Providers.Estimates;

/// <summary>
/// An image's width and height, read from the first bytes of a PNG, JPEG, GIF or WebP file, where each
/// format states them; the pixels are never decoded.
/// </summary>
internal static class ImageDimensions
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>False for any other format, or a header that is cut short or says nothing sensible.</summary>
    public static bool TryRead(ReadOnlySpan<byte> header, out int width, out int height)
    {
        (width, height) = header switch
        {
            _ when header.StartsWith(PngSignature) => Png(header),
            [0xFF, 0xD8, ..] => Jpeg(header),
            _ when header.StartsWith("GIF87a"u8) || header.StartsWith("GIF89a"u8) => Gif(header),
            _ when header.StartsWith("RIFF"u8) && header.Length >= 16 && header[8..12].SequenceEqual("WEBP"u8) => WebP(header),
            _ => (0, 0),
        };
        return width > 0 && height > 0;
    }

    /// <summary>The IHDR chunk comes first: its length, its name, then width and height as 32-bit big-endian.</summary>
    private static (int, int) Png(ReadOnlySpan<byte> header) =>
        header.Length >= 24 && header[12..16].SequenceEqual("IHDR"u8)
            ? (BinaryPrimitives.ReadInt32BigEndian(header[16..]), BinaryPrimitives.ReadInt32BigEndian(header[20..]))
            : (0, 0);

    /// <summary>The logical screen: 16-bit little-endian width and height after the six-byte signature.</summary>
    private static (int, int) Gif(ReadOnlySpan<byte> header) =>
        header.Length >= 10
            ? (BinaryPrimitives.ReadUInt16LittleEndian(header[6..]), BinaryPrimitives.ReadUInt16LittleEndian(header[8..]))
            : (0, 0);

    /// <summary>The first chunk after RIFF....WEBP says which of three encodings follows, and each keeps the size its own way.</summary>
    private static (int, int) WebP(ReadOnlySpan<byte> header)
    {
        var chunk = header[12..16];
        if (chunk.SequenceEqual("VP8 "u8) && header.Length >= 30 && header[23..26].SequenceEqual((ReadOnlySpan<byte>)[0x9D, 0x01, 0x2A]))
            // Lossy: after the frame tag and start code, 14-bit width and height (the top two bits are scaling).
            return (BinaryPrimitives.ReadUInt16LittleEndian(header[26..]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(header[28..]) & 0x3FFF);
        if (chunk.SequenceEqual("VP8L"u8) && header.Length >= 25 && header[20] == 0x2F)
        {
            // Lossless: after the signature byte, width - 1 and height - 1 packed as two 14-bit fields.
            var bits = BinaryPrimitives.ReadUInt32LittleEndian(header[21..]);
            return ((int)(bits & 0x3FFF) + 1, (int)((bits >> 14) & 0x3FFF) + 1);
        }
        if (chunk.SequenceEqual("VP8X"u8) && header.Length >= 30)
            // Extended: canvas width - 1 and height - 1 as 24-bit little-endian, after four bytes of flags.
            return (ReadUInt24LittleEndian(header[24..]) + 1, ReadUInt24LittleEndian(header[27..]) + 1);
        return (0, 0);
    }

    /// <summary>
    /// Walks the segments from the start of the file to the first start-of-frame marker, which holds the size;
    /// metadata such as EXIF (APPn) often comes before it.
    /// </summary>
    private static (int, int) Jpeg(ReadOnlySpan<byte> header)
    {
        var at = 2;
        while (at + 1 < header.Length)
        {
            if (header[at] != 0xFF)
                return (0, 0);
            // Any number of 0xFF fill bytes may come before a marker.
            while (at + 1 < header.Length && header[at + 1] == 0xFF)
                at++;
            if (at + 1 >= header.Length)
                return (0, 0);
            var marker = header[at + 1];
            if (marker is 0x01 or 0xD8 or (>= 0xD0 and <= 0xD7))
            {
                // Markers that stand alone, without a length.
                at += 2;
                continue;
            }
            // The image data (SOS) or its end (EOI) before any frame header: there is no size to find.
            if (marker is 0xDA or 0xD9 || at + 4 > header.Length)
                return (0, 0);
            if (IsStartOfFrame(marker))
                // The frame header: length, sample precision, then height and width, 16-bit big-endian.
                return at + 9 <= header.Length
                    ? (BinaryPrimitives.ReadUInt16BigEndian(header[(at + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(header[(at + 5)..]))
                    : (0, 0);
            var length = BinaryPrimitives.ReadUInt16BigEndian(header[(at + 2)..]);
            if (length < 2)
                return (0, 0);
            at += 2 + length;
        }
        return (0, 0);
    }

    /// <summary>SOF0 to SOF15, less DHT (C4), JPG (C8) and DAC (CC), which share the range.</summary>
    private static bool IsStartOfFrame(byte marker) => marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC);

    private static int ReadUInt24LittleEndian(ReadOnlySpan<byte> bytes) => bytes[0] | (bytes[1] << 8) | (bytes[2] << 16);
}
