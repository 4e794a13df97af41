using Infery.Api.Chat;
using Infery.Api.Providers.Estimates;
using static Infery.Api.Tests.Providers.Estimates.TestMedia;

namespace Infery.Api.Tests.Providers.Estimates;

public sealed class AudioDurationTests
{
    [Fact]
    public void A_wav_lasts_its_data_size_over_its_byte_rate() =>
        AudioDuration.Seconds(Base64(Wav(byteRate: 32_000, dataBytes: 96_000)), "wav").ShouldBe(3.0);

    [Fact]
    public void Chunks_between_the_format_and_the_data_are_passed_over() =>
        AudioDuration.Seconds(Base64(Wav(32_000, 64_000, null, ("LIST", 26), ("bext", 603))), "wav").ShouldBe(2.0);

    [Theory]
    [InlineData(0u)]
    [InlineData(uint.MaxValue)]
    [InlineData(10_000_000u)]
    public void A_wav_whose_data_size_is_unset_or_past_the_end_lasts_as_long_as_its_payload(uint declared) =>
        AudioDuration.Seconds(Base64(Wav(32_000, 64_000, declared)), "wav").ShouldBe(2.0, tolerance: 0.001);

    [Fact]
    public void A_wav_that_states_a_higher_byte_rate_than_it_plays_lasts_as_long_as_it_plays()
    {
        var wav = Wav(byteRate: 8_000, dataBytes: 800_000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(wav.AsSpan(28), int.MaxValue);

        AudioDuration.Seconds(Base64(wav), "wav").ShouldBe(100.0);
    }

    [Fact]
    public void Pcm16_is_24_khz_mono_16_bit() =>
        AudioDuration.Seconds(Base64(new byte[96_000]), "pcm16").ShouldBe(2.0);

    [Fact]
    public void An_mp3_lasts_its_size_at_mp3s_lowest_bitrate_whatever_its_first_frame_says()
    {
        // MPEG-1 Layer III, first frame at 128 kbit/s, and MPEG-2 at 64: both counted at 8 kbit/s, 1,000 bytes a second.
        AudioDuration.Seconds(Base64(Mp3(48_000)), "mp3").ShouldBe(48.0);
        AudioDuration.Seconds(Base64(Mp3(48_000, versionAndLayer: 0xF3, bitrateByte: 0x80)), "mp3").ShouldBe(48.0);
    }

    [Fact]
    public void An_id3_tag_before_the_first_frame_is_skipped_and_not_counted_as_audio() =>
        AudioDuration.Seconds(Base64(Mp3(16_000 + 5_010, id3TagBytes: 5_000)), "mp3").ShouldBe(16.0, tolerance: 0.01);

    [Fact]
    public void A_compressed_wav_is_taken_at_6_kbits_a_second_whatever_its_rates_say()
    {
        var adpcm = Wav(byteRate: 8_000, dataBytes: 30_000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(adpcm.AsSpan(20), 0x0011);

        AudioDuration.Seconds(Base64(adpcm), "wav").ShouldBe(adpcm.Length / 750.0, tolerance: 0.01);
    }

    [Theory]
    [InlineData("webm")]
    [InlineData("flac")]
    public void Other_formats_are_taken_at_6_kbits_a_second(string format) =>
        AudioDuration.Seconds(Base64(new byte[30_000]), format).ShouldBe(40.0);

    [Fact]
    public void A_wav_or_mp3_whose_header_cannot_be_read_is_taken_at_6_kbits_a_second()
    {
        AudioDuration.Seconds(Base64(new byte[30_000]), "wav").ShouldBe(40.0);
        AudioDuration.Seconds(Base64(new byte[30_000]), "mp3").ShouldBe(40.0);
        // A free-format bitrate says nothing about the length.
        AudioDuration.Seconds(Base64(Mp3(30_000, bitrateByte: 0x00)), "mp3").ShouldBe(40.0);
        AudioDuration.Seconds(Base64(Wav(0, 30_000)[..60]), "wav").ShouldBe(60 / 750.0);
    }

    [Fact]
    public void Audio_costs_32_tokens_a_second_rounded_up_and_at_least_one()
    {
        AudioTokens.ForSeconds(3.0).ShouldBe(96);
        AudioTokens.ForSeconds(0.01).ShouldBe(1);
        AudioTokens.ForSeconds(0).ShouldBe(1);
        AudioTokens.ForSeconds(3_600).ShouldBe(115_200);
        AudioTokens.Estimate(new AudioPart(Base64(Wav(32_000, 96_000)), "wav")).ShouldBe(96);
    }
}
