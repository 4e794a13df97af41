using System.Text;

namespace Infery.Api.Tests.Providers.Estimates;

/// <summary>The first bytes of images, audio and PDFs, built by hand: just what each format states about its size.</summary>
internal static class TestMedia
{
    public static string Base64(byte[] bytes) => Convert.ToBase64String(bytes);

    public static string DataUri(string mediaType, byte[] bytes) => $"data:{mediaType};base64,{Base64(bytes)}";

    public static byte[] Png(int width, int height) =>
        [0x89, .. "PNG\r\n\x1A\n"u8, .. BigEndian(13), .. "IHDR"u8, .. BigEndian(width), .. BigEndian(height), 8, 6, 0, 0, 0];

    public static byte[] Gif(int width, int height) =>
        [.. "GIF89a"u8, .. LittleEndian16(width), .. LittleEndian16(height), 0xF7, 0, 0];

    /// <summary>A baseline JPEG: a JFIF APP0, optional metadata segments of the given sizes, then the frame header.</summary>
    public static byte[] Jpeg(int width, int height, byte startOfFrame = 0xC0, params int[] metadataSegments)
    {
        var jpeg = new List<byte> { 0xFF, 0xD8 };
        jpeg.AddRange(Segment(0xE0, [.. "JFIF\0"u8, 1, 1, 0, 0, 1, 0, 1, 0, 0]));
        foreach (var size in metadataSegments)
            jpeg.AddRange(Segment(0xE1, new byte[size]));
        jpeg.AddRange(Segment(0xDB, new byte[65]));
        jpeg.AddRange(Segment(startOfFrame, [8, .. BigEndian16(height), .. BigEndian16(width), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]));
        jpeg.AddRange(Segment(0xDA, [1, 1, 0, 0, 0x3F, 0]));
        return [.. jpeg];
    }

    public static byte[] Segment(byte marker, byte[] data) => [0xFF, marker, .. BigEndian16(data.Length + 2), .. data];

    public static byte[] WebPLossy(int width, int height) =>
        WebP("VP8 ", [0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A, .. LittleEndian16(width), .. LittleEndian16(height)]);

    public static byte[] WebPLossless(int width, int height) =>
        WebP("VP8L", [0x2F, .. LittleEndian32((width - 1) | (height - 1) << 14)]);

    public static byte[] WebPExtended(int width, int height) =>
        WebP("VP8X", [0x10, 0, 0, 0, .. LittleEndian32(width - 1)[..3], .. LittleEndian32(height - 1)[..3]]);

    private static byte[] WebP(string chunk, byte[] data) =>
        [.. "RIFF"u8, .. LittleEndian32(data.Length + 12), .. "WEBP"u8, .. Encoding.ASCII.GetBytes(chunk), .. LittleEndian32(data.Length), .. data];

    /// <summary>A WAV file: a fmt chunk with this byte rate, any other chunks, then a data chunk stating <paramref name="declaredDataSize"/>.</summary>
    public static byte[] Wav(int byteRate, int dataBytes, uint? declaredDataSize = null, params (string Id, int Size)[] otherChunks)
    {
        var chunks = new List<byte>();
        chunks.AddRange(Chunk("fmt ", [1, 0, 1, 0, .. LittleEndian32(byteRate / 2), .. LittleEndian32(byteRate), 2, 0, 16, 0]));
        foreach (var (id, size) in otherChunks)
            chunks.AddRange(Chunk(id, new byte[size]));
        chunks.AddRange([.. Encoding.ASCII.GetBytes("data"), .. LittleEndian32((int)(declaredDataSize ?? (uint)dataBytes))]);
        chunks.AddRange(new byte[dataBytes]);
        return [.. "RIFF"u8, .. LittleEndian32(chunks.Count + 4), .. "WAVE"u8, .. chunks];
    }

    private static byte[] Chunk(string id, byte[] data) =>
        [.. Encoding.ASCII.GetBytes(id), .. LittleEndian32(data.Length), .. data, .. data.Length % 2 == 1 ? new byte[1] : []];

    /// <summary>An MP3 of <paramref name="totalBytes"/> whose first frame header has this version, layer and bitrate index byte, after an optional ID3v2 tag.</summary>
    public static byte[] Mp3(int totalBytes, byte versionAndLayer = 0xFB, byte bitrateByte = 0x90, int id3TagBytes = 0)
    {
        var mp3 = new byte[totalBytes];
        var at = 0;
        if (id3TagBytes > 0)
        {
            "ID3"u8.CopyTo(mp3);
            mp3[3] = 4;
            mp3[6] = (byte)((id3TagBytes >> 21) & 0x7F);
            mp3[7] = (byte)((id3TagBytes >> 14) & 0x7F);
            mp3[8] = (byte)((id3TagBytes >> 7) & 0x7F);
            mp3[9] = (byte)(id3TagBytes & 0x7F);
            at = 10 + id3TagBytes;
        }
        mp3[at] = 0xFF;
        mp3[at + 1] = versionAndLayer;
        mp3[at + 2] = bitrateByte;
        mp3[at + 3] = 0x64;
        return mp3;
    }

    /// <summary>An uncompressed PDF with a page tree of <paramref name="pages"/> pages, each with a little text.</summary>
    public static string PdfOfPages(int pages, string pageType = "/Type /Page", string? filler = null)
    {
        var pdf = new StringBuilder("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
        pdf.Append($"2 0 obj << /Type /Pages /Kids [{string.Join(" ", Enumerable.Range(3, pages).Select(n => $"{n} 0 R"))}] /Count {pages} >> endobj\n");
        for (var page = 0; page < pages; page++)
            pdf.Append($"{page + 3} 0 obj << {pageType} /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n{filler}");
        pdf.Append("trailer << /Root 1 0 R >>\n%%EOF\n");
        return pdf.ToString();
    }

    private static byte[] BigEndian(int value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    private static byte[] BigEndian16(int value) => [(byte)(value >> 8), (byte)value];

    private static byte[] LittleEndian16(int value) => [(byte)value, (byte)(value >> 8)];

    private static byte[] LittleEndian32(int value) => [(byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24)];
}
