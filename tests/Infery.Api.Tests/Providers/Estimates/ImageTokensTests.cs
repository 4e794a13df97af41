using Infery.Api.Chat;
using Infery.Api.Providers.Estimates;
using static Infery.Api.Tests.Providers.Estimates.TestMedia;

namespace Infery.Api.Tests.Providers.Estimates;

public sealed class ImageTokensTests
{
    [Theory]
    [InlineData(512, 512, 255)]
    [InlineData(1024, 1024, 765)]
    [InlineData(2048, 4096, 1105)]
    [InlineData(4096, 8192, 1105)]
    [InlineData(2048, 768, 1445)]
    [InlineData(100, 100, 255)]
    public void OpenAi_scales_into_2048_then_to_a_shortest_side_of_768_and_counts_512_pixel_tiles(int width, int height, int tokens) =>
        ImageTokens.OpenAi(width, height).ShouldBe(tokens);

    [Theory]
    [InlineData(200, 200, 54)]
    [InlineData(1000, 1000, 1334)]
    [InlineData(1568, 700, 1464)]
    [InlineData(4000, 3000, 1534)]
    [InlineData(10_000, 100, 33)]
    public void Anthropic_counts_a_token_per_750_pixels_within_1568_pixels_and_115_megapixels(int width, int height, int tokens) =>
        ImageTokens.Anthropic(width, height).ShouldBe(tokens);

    [Theory]
    [InlineData(384, 384, 258)]
    [InlineData(385, 100, 258)]
    [InlineData(1000, 1000, 4 * 258)]
    [InlineData(3072, 3072, 16 * 258)]
    [InlineData(12_000, 12_000, 16 * 258)]
    [InlineData(12_000, 1_000, 4 * 258)]
    public void Gemini_counts_768_pixel_tiles_of_the_image_scaled_into_3072(int width, int height, int tokens) =>
        ImageTokens.Gemini(width, height).ShouldBe(tokens);

    [Fact]
    public void A_known_size_costs_what_the_provider_that_counts_most_would_count()
    {
        // A wide banner: OpenAI's eight tiles outweigh Anthropic's pixels and Gemini's three tiles.
        ImageTokens.ForSize(2048, 768, lowDetail: false).ShouldBe(1445);
        // A photo: Anthropic's pixel count is the highest.
        ImageTokens.ForSize(1024, 1024, lowDetail: false).ShouldBe(1399);
        // A large square: Gemini's sixteen tiles.
        ImageTokens.ForSize(4000, 4000, lowDetail: false).ShouldBe(4128);
    }

    [Fact]
    public void Low_detail_lowers_only_openais_count()
    {
        ImageTokens.ForSize(2048, 768, lowDetail: true).ShouldBe(ImageTokens.Anthropic(2048, 768));
        ImageTokens.ForSize(4000, 4000, lowDetail: true).ShouldBe(4128);
        ImageTokens.ForSize(10, 10, lowDetail: true).ShouldBe(258);
    }

    [Fact]
    public void The_cost_of_an_image_of_unknown_size_is_the_most_any_size_can_cost()
    {
        var most = 0;
        foreach (var width in Sizes())
            foreach (var height in Sizes())
                most = Math.Max(most, ImageTokens.ForSize(width, height, lowDetail: false));

        most.ShouldBe(ImageTokens.UnknownSize);
        ImageTokens.ForSize(100_000, 1, lowDetail: false).ShouldBeLessThanOrEqualTo(ImageTokens.UnknownSize);
    }

    [Fact]
    public void The_size_of_an_inline_image_is_read_from_its_header()
    {
        ImageTokens.Estimate(new ImagePart(DataUri("image/png", Png(2048, 768)), null)).ShouldBe(1445);
        ImageTokens.Estimate(new ImagePart(DataUri("image/png", Png(2048, 768)), "low")).ShouldBe(ImageTokens.Anthropic(2048, 768));
        ImageTokens.Estimate(new ImagePart(DataUri("image/gif", Gif(16, 16)), "auto")).ShouldBe(258);
    }

    [Fact]
    public void A_jpeg_frame_header_behind_metadata_is_found_within_64_kib()
    {
        var behindExif = Jpeg(16, 16, 0xC0, 20_000, 30_000);
        var tooFar = Jpeg(16, 16, 0xC0, 40_000, 40_000);

        ImageTokens.Estimate(new ImagePart(DataUri("image/jpeg", behindExif), null)).ShouldBe(258);
        ImageTokens.Estimate(new ImagePart(DataUri("image/jpeg", tooFar), null)).ShouldBe(ImageTokens.UnknownSize);
    }

    [Theory]
    [InlineData("https://example.com/cat.png", null)]
    [InlineData("https://example.com/cat.png", "low")]
    [InlineData("data:image/png;base64,iVBOR", null)]
    [InlineData("data:image/heic;base64,AAAAGGZ0eXBoZWljAAAAAG1pZjE=", null)]
    public void An_image_whose_size_cannot_be_read_costs_the_most_any_size_can(string url, string? detail) =>
        ImageTokens.Estimate(new ImagePart(url, detail)).ShouldBe(ImageTokens.UnknownSize);

    /// <summary>Every size up to 4,000 pixels in steps, and extremes beyond.</summary>
    private static IEnumerable<int> Sizes() =>
        Enumerable.Range(1, 400).Select(i => i * 10).Concat([1, 383, 384, 385, 511, 512, 513, 767, 768, 769, 1536, 1568, 2048, 2304, 3072, 5000, 30_000]);
}
