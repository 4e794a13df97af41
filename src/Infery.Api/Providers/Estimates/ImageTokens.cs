using System.Buffers;
using Infery.Api.Chat;

namespace Infery.Api.Providers.Estimates;

/// <summary>
/// Input tokens of an image by each provider's published rule, and the largest of them: a fallback chain may
/// carry the request to any provider, so the reservation has to hold for whichever counts most.
/// </summary>
internal static class ImageTokens
{
    /// <summary>OpenAI (gpt-4o family) at detail "low": one flat base cost whatever the size.</summary>
    public const int OpenAiLowDetail = 85;

    private const int OpenAiTile = 170;
    private const int GeminiTile = 258;

    /// <summary>
    /// The most any rule gives for any size, for an image whose size cannot be read (an http URL, an unknown
    /// format). OpenAI's 2048-pixel box with a shortest side of 768 leaves at most 4 × 2 tiles (1,445);
    /// Anthropic's 1.15 megapixels come to 1,534; Gemini's 3072-pixel box holds 4 × 4 tiles of 258 (4,128).
    /// </summary>
    public const int UnknownSize = 4 * 4 * GeminiTile;

    /// <summary>Most headers are in the first few hundred bytes; a JPEG's may sit behind metadata, so look further only if need be.</summary>
    private const int FirstLook = 1024;
    private const int MaxHeaderBytes = 64 * 1024;

    public static int Estimate(ImagePart image) =>
        InlineData.TryParse(image.Url, out var data) ? ForPayload(data.Base64, lowDetail: image.Detail == "low") : UnknownSize;

    /// <summary>An image sent inline, as base64.</summary>
    public static int ForPayload(ReadOnlySpan<char> base64, bool lowDetail) =>
        TryReadDimensions(base64, out var width, out var height) ? ForSize(width, height, lowDetail) : UnknownSize;

    /// <summary>Detail "low" lowers only OpenAI's count: the other providers ignore it.</summary>
    public static int ForSize(int width, int height, bool lowDetail) =>
        Math.Max(lowDetail ? OpenAiLowDetail : OpenAi(width, height), Math.Max(Anthropic(width, height), Gemini(width, height)));

    /// <summary>Scaled into 2048 × 2048, then until the shortest side is at most 768; 85 plus 170 per 512-pixel tile.</summary>
    public static int OpenAi(double width, double height)
    {
        (width, height) = Fit(width, height, 2048);
        var shortest = Math.Min(width, height);
        if (shortest > 768)
            (width, height) = (width * 768 / shortest, height * 768 / shortest);
        return OpenAiLowDetail + OpenAiTile * Tiles(width, 512) * Tiles(height, 512);
    }

    /// <summary>Scaled until the long edge is at most 1568 pixels and the area at most 1.15 megapixels; a token per 750 pixels.</summary>
    public static int Anthropic(double width, double height)
    {
        (width, height) = Fit(width, height, 1568);
        var area = width * height;
        if (area > 1_150_000)
            area = 1_150_000;
        return (int)Math.Ceiling(area / 750);
    }

    /// <summary>258 for an image within 384 × 384; otherwise 258 per 768-pixel tile of the image scaled into 3072 × 3072.</summary>
    public static int Gemini(double width, double height)
    {
        if (width <= 384 && height <= 384)
            return GeminiTile;
        (width, height) = Fit(width, height, 3072);
        return GeminiTile * Tiles(width, 768) * Tiles(height, 768);
    }

    /// <summary>Scaled down, never up, so that both sides fit <paramref name="box"/>, keeping the aspect ratio.</summary>
    private static (double, double) Fit(double width, double height, double box)
    {
        var longest = Math.Max(width, height);
        return longest <= box ? (width, height) : (width * box / longest, height * box / longest);
    }

    private static int Tiles(double length, int tile) => (int)Math.Ceiling(length / tile);

    private static bool TryReadDimensions(ReadOnlySpan<char> base64, out int width, out int height)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxHeaderBytes);
        try
        {
            var reader = new Base64Reader(base64);
            var length = reader.Read(buffer.AsSpan(0, FirstLook));
            if (ImageDimensions.TryRead(buffer.AsSpan(0, length), out width, out height))
                return true;
            if (reader.AtEnd)
                return false;
            length += reader.Read(buffer.AsSpan(length, MaxHeaderBytes - length));
            return ImageDimensions.TryRead(buffer.AsSpan(0, length), out width, out height);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
