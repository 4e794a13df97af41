using System.Buffers.Binary;

namespace Infery.Api.Providers.Estimates;

/// <summary>
/// How long a base64 audio clip plays at most: a PCM WAV by its header's rates and data size, an MP3 at the lowest
/// bitrate MP3 has (8 kbit/s), pcm16 at its fixed rate. Anything else, compressed WAV included, is taken to be at
/// 6 kbit/s, the lowest bitrate of the speech codecs (Opus), so its length errs long, never short.
/// </summary>
internal static class AudioDuration
{
    /// <summary>pcm16 as OpenAI takes it: 24 kHz, mono, 16-bit.</summary>
    public const int Pcm16BytesPerSecond = 48_000;

    /// <summary>6 kbit/s.</summary>
    public const int FallbackBytesPerSecond = 750;

    /// <summary>The lowest Layer III bitrate (MPEG-2.5), in bytes a second: a file's frames may each have their own.</summary>
    public const int Mp3LowestBytesPerSecond = 1_000;

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
    /// RIFF chunks from the start to the "data" chunk: "fmt " holds the format and rates, "data" the size of the
    /// samples. Only PCM plays sample rate × block align bytes a second, whatever the header's byte rate says, so
    /// the lower of the two counts; a compressed format's block holds many samples, and tells nothing. A size of 0
    /// or one past the end (as streaming writers leave it) gives way to what the payload holds.
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
                if (BinaryPrimitives.ReadUInt16LittleEndian(header) is not (PcmFormat or FloatFormat or ExtensibleFormat))
                    return null;
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

    /// <summary>WAV format tags of uncompressed samples: integer PCM, float, and the extensible header (PCM in practice).</summary>
    private const ushort PcmFormat = 1, FloatFormat = 3, ExtensibleFormat = 0xFFFE;

    /// <summary>
    /// The audio after any ID3v2 tag, at MP3's lowest bitrate: the first frame's own bitrate need not hold for the
    /// rest, with a variable bitrate or a frame put first to shorten the estimate.
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
        return IsLayer3Frame(header[..4]) ? (double)(size - start) / Mp3LowestBytesPerSecond : null;
    }

    /// <summary>
    /// A Layer III frame header: 11 sync bits, the MPEG version (2 bits), the layer (2), a CRC flag, then the
    /// bitrate index (4), which is neither 0 (a free format) nor 15 (invalid).
    /// </summary>
    private static bool IsLayer3Frame(ReadOnlySpan<byte> frame) =>
        frame[0] == 0xFF && (frame[1] & 0xE0) == 0xE0 && ((frame[1] >> 3) & 0b11) != 0b01 && ((frame[1] >> 1) & 0b11) == 0b01
        && (frame[2] >> 4) is not (0 or 15);
}
