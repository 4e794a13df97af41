using Infery.Api.Providers.Estimates;
using static Infery.Api.Tests.Providers.Estimates.TestMedia;

namespace Infery.Api.Tests.Providers.Estimates;

public sealed class ImageDimensionsTests
{
    public static TheoryData<string, byte[]> Headers => new()
    {
        { "PNG", Png(1920, 1080) },
        { "baseline JPEG", Jpeg(1920, 1080) },
        { "progressive JPEG", Jpeg(1920, 1080, startOfFrame: 0xC2) },
        { "JPEG with EXIF before the frame header", Jpeg(1920, 1080, 0xC0, 3_000) },
        { "GIF", Gif(1920, 1080) },
        { "lossy WebP", WebPLossy(1920, 1080) },
        { "lossless WebP", WebPLossless(1920, 1080) },
        { "extended WebP", WebPExtended(1920, 1080) },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Width_and_height_are_read_from_the_header(string format, byte[] header)
    {
        ImageDimensions.TryRead(header, out var width, out var height).ShouldBeTrue(format);

        (width, height).ShouldBe((1920, 1080), format);
    }

    [Fact]
    public void Large_webp_canvases_keep_all_their_bits()
    {
        ImageDimensions.TryRead(WebPLossless(16_384, 9_000), out var width, out var height).ShouldBeTrue();
        (width, height).ShouldBe((16_384, 9_000));
        ImageDimensions.TryRead(WebPExtended(20_000, 300), out width, out height).ShouldBeTrue();
        (width, height).ShouldBe((20_000, 300));
    }

    [Fact]
    public void Fill_bytes_before_a_jpeg_marker_are_skipped()
    {
        byte[] jpeg = [0xFF, 0xD8, 0xFF, 0xFF, 0xFF, .. Segment(0xC0, [8, 0x01, 0x00, 0x02, 0x00, 1, 1, 0x11, 0])[1..]];

        ImageDimensions.TryRead(jpeg, out var width, out var height).ShouldBeTrue();
        (width, height).ShouldBe((512, 256));
    }

    [Fact]
    public void A_huffman_table_is_not_taken_for_a_frame_header()
    {
        byte[] jpeg = [0xFF, 0xD8, .. Segment(0xC4, [0, 0x10, 0x20, 0x30, 0x40, 0x50]), .. Segment(0xC0, [8, 0, 10, 0, 20, 1, 1, 0x11, 0])];

        ImageDimensions.TryRead(jpeg, out var width, out var height).ShouldBeTrue();
        (width, height).ShouldBe((20, 10));
    }

    public static TheoryData<string, byte[]> Unreadable => new()
    {
        { "garbage", "not an image at all, just some text"u8.ToArray() },
        { "empty", [] },
        { "PNG cut short", Png(100, 100)[..20] },
        { "JPEG whose frame header lies past the bytes read", Jpeg(100, 100, 0xC0, 3_000)[..2_000] },
        { "JPEG with the image data before any frame header", [0xFF, 0xD8, .. Segment(0xDA, [1, 1, 0, 0, 0x3F, 0])] },
        { "JPEG with a broken segment", [0xFF, 0xD8, 0x00, 0x11, 0x22, 0x33] },
        { "GIF of zero width", Gif(0, 100) },
        { "WebP of an unknown kind", [.. WebPLossy(10, 10)[..12], .. "VP9 "u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "PNG whose first chunk is not IHDR", [.. Png(100, 100)[..12], .. "IDAT"u8, .. Png(100, 100)[16..]] },
    };

    [Theory]
    [MemberData(nameof(Unreadable))]
    public void An_unknown_or_broken_header_gives_no_size(string what, byte[] header) =>
        ImageDimensions.TryRead(header, out _, out _).ShouldBeFalse(what);
}
