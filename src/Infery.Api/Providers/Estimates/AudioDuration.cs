using System.Buffers.Binary;

namespace Infery.Api.Providers.Estimates;

/// <summary>
/// How long a base64 audio clip plays, by what its format states: a WAV header's byte rate and data size, the
/// bitrate in an MP3's first frame header, pcm16's fixed rate. A clip whose encoding states nothing readable is
/// taken to be at a bitrate lower than speech codecs use, so its length errs long, never short.
/// </summary>
internal static class AudioDuration
{
    /// <summary>pcm16 as OpenAI takes it: 24 kHz, mono, 16-bit.</summary>
    public const int Pcm16BytesPerSecond = 48_000;

    /// <summary>8 kbit/s.</summary>
    public const int FallbackBytesPerSecond = 1_000;

    /// <summary>Layer III bitrates in kbit/s by the header's index: MPEG-1, then MPEG-2 and 2.5; 0 where the index means free or invalid.</summary>
    private static ReadOnlySpan<short> Mpeg1Bitrates => [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0];
    private static ReadOnlySpan<short> Mpeg2Bitrates => [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0];

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
    /// RIFF chunks from the start to the "data" chunk: "fmt " holds the byte rate, "data" the size of the samples.
    /// A size of 0 or one past the end (as streaming writers leave it) gives way to what the payload holds.
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
                // Format tag, channels and sample rate come first.
                byteRate = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
                skip -= 16;
            }
            if (reader.Skip(skip) < skip)
                return null;
            position += chunkSize + (chunkSize & 1);
        }
        return null;
    }

    /// <summary>The audio after any ID3v2 tag, at the bitrate of its first Layer III frame.</summary>
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
        return FrameBitrate(header[..4]) is { } kilobits ? (double)(size - start) * 8 / (kilobits * 1000) : null;
    }

    /// <summary>
    /// The bitrate of a frame header: 11 sync bits, the MPEG version (2 bits), the layer (2), a CRC flag,
    /// then the bitrate index (4).
    /// </summary>
    private static int? FrameBitrate(ReadOnlySpan<byte> frame)
    {
        if (frame[0] != 0xFF || (frame[1] & 0xE0) != 0xE0)
            return null;
        var version = (frame[1] >> 3) & 0b11;
        var layer = (frame[1] >> 1) & 0b11;
        if (version == 0b01 || layer != 0b01)
            return null;
        var kilobits = (version == 0b11 ? Mpeg1Bitrates : Mpeg2Bitrates)[frame[2] >> 4];
        return kilobits > 0 ? kilobits : null;
    }
}
