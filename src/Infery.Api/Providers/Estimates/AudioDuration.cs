using System.Buffers.Binary;

namespace Infery.Api.Providers.Estimates;

/// <summary>
/// How long a base64 audio clip plays at most, by what its format states: a WAV header's rates and data size, the
/// lowest bitrate an MP3's MPEG version allows, pcm16's fixed rate. A clip whose encoding states nothing readable
/// is taken to be at 6 kbit/s, the lowest bitrate of the speech codecs (Opus), so its length errs long, never short.
/// </summary>
internal static class AudioDuration
{
    /// <summary>pcm16 as OpenAI takes it: 24 kHz, mono, 16-bit.</summary>
    public const int Pcm16BytesPerSecond = 48_000;

    /// <summary>6 kbit/s.</summary>
    public const int FallbackBytesPerSecond = 750;

    /// <summary>The lowest Layer III bitrates in kbit/s: MPEG-1, and MPEG-2 and 2.5.</summary>
    private const int Mpeg1LowestKilobits = 32;
    private const int Mpeg2LowestKilobits = 8;

    /// <summary>Seconds of audio in <paramref name="base64"/>, given its format (wav, mp3, pcm16, webm...).</summary>
    public static double Seconds(ReadOnlySpan<char> base64, string format)
    {
        var size = Base64Reader.DecodedLength(base64);
        return format switch
        {
            "pcm16" => (double)size / Pcm16BytesPerSecond,
            "wav" when Wav(base64, size) is { } seconds => seconds,
            "mp3" when Mp3(base64, size) is { } seconds => seconds,
            _ => (double)size / FallbackBytesPerSecond,
        };
    }

    /// <summary>
    /// RIFF chunks from the start to the "data" chunk: "fmt " holds the rates, "data" the size of the samples.
    /// Decoders play sample rate × block align bytes a second whatever the header's byte rate says, so the lower of
    /// the two counts. A size of 0 or one past the end (as streaming writers leave it) gives way to what the payload holds.
    /// </summary>
    private static double? Wav(ReadOnlySpan<char> base64, long size)
    {
        var reader = new Base64Reader(base64);
        Span<byte> header = stackalloc byte[16];
        if (reader.Read(header[..12]) < 12 || !header[..4].SequenceEqual("RIFF"u8) || !header[8..12].SequenceEqual("WAVE"u8))
            return null;
        long position = 12;
        uint byteRate = 0;
        while (reader.Read(header[..8]) == 8)
        {
            position += 8;
            var chunkSize = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (header[..4].SequenceEqual("data"u8))
            {
                if (byteRate == 0)
                    return null;
                var available = Math.Max(0, size - position);
                var samples = chunkSize == 0 || chunkSize > available ? available : chunkSize;
                return (double)samples / byteRate;
            }
            long skip = chunkSize + (chunkSize & 1);
            if (header[..4].SequenceEqual("fmt "u8))
            {
                if (chunkSize < 16 || reader.Read(header) < 16)
                    return null;
                // Format tag and channels, then the sample rate, the byte rate and the block align.
                var played = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) * BinaryPrimitives.ReadUInt16LittleEndian(header[12..]);
                var stated = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
                byteRate = (uint)Math.Min(stated == 0 ? played : stated, played == 0 ? stated : played);
                skip -= 16;
            }
            if (reader.Skip(skip) < skip)
                return null;
            position += chunkSize + (chunkSize & 1);
        }
        return null;
    }

    /// <summary>
    /// The audio after any ID3v2 tag, at the lowest bitrate of its first frame's MPEG version: the first frame's own
    /// bitrate need not hold for the rest, with a variable bitrate or a frame put first to shorten the estimate.
    /// </summary>
    private static double? Mp3(ReadOnlySpan<char> base64, long size)
    {
        var reader = new Base64Reader(base64);
        Span<byte> header = stackalloc byte[10];
        if (reader.Read(header) < 10)
            return null;
        long start = 0;
        if (header.StartsWith("ID3"u8))
        {
            // Ten bytes of header, a footer of ten more if flagged, and a size in 7-bit bytes ("synchsafe").
            var tagSize = (header[6] & 0x7F) << 21 | (header[7] & 0x7F) << 14 | (header[8] & 0x7F) << 7 | (header[9] & 0x7F);
            start = 10 + tagSize + ((header[5] & 0x10) != 0 ? 10 : 0);
            if (reader.Skip(start - 10) < start - 10 || reader.Read(header[..4]) < 4)
                return null;
        }
        return LowestBitrate(header[..4]) is { } kilobits ? (double)(size - start) * 8 / (kilobits * 1000) : null;
    }

    /// <summary>
    /// The lowest bitrate of a Layer III frame header's MPEG version: the header is 11 sync bits, the version
    /// (2 bits), the layer (2), a CRC flag, then the bitrate index (4).
    /// </summary>
    private static int? LowestBitrate(ReadOnlySpan<byte> frame)
    {
        if (frame[0] != 0xFF || (frame[1] & 0xE0) != 0xE0)
            return null;
        var version = (frame[1] >> 3) & 0b11;
        var layer = (frame[1] >> 1) & 0b11;
        // Bitrate index 0 is a free format, 15 invalid: neither tells the version's range holds.
        var index = frame[2] >> 4;
        if (version == 0b01 || layer != 0b01 || index is 0 or 15)
            return null;
        return version == 0b11 ? Mpeg1LowestKilobits : Mpeg2LowestKilobits;
    }
}
