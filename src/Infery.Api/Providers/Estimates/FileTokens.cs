using Infery.Api.Chat;

namespace Infery.Api.Providers.Estimates;

/// <summary>Input tokens of a file attached to a message, by what kind of file it is.</summary>
internal static class FileTokens
{
    /// <summary>A page of dense text. The gateway cuts the text of the pages it converts to this.</summary>
    public const int PdfPageText = 3_000;

    /// <summary>The image of the page that OpenAI and Anthropic both add.</summary>
    public const int PdfPageImage = 1_600;

    public const int PerPdfPage = PdfPageText + PdfPageImage;

    /// <summary>
    /// Text of any other kind. English runs about four bytes a token, but byte-level tokenizers get far fewer
    /// bytes into a token of non-Latin or random text.
    /// </summary>
    public const int BytesPerToken = 2;

    /// <summary>A file sent by id: the Files API is not implemented, so there is nothing to measure.</summary>
    public const int ById = 2_000;

    /// <summary><paramref name="imageTokenFactor"/> scales the images among them: image files and PDF pages' images.</summary>
    public static long Estimate(FilePart file, double imageTokenFactor = 1)
    {
        if (file.FileData is null)
            return ById;
        // A PDF the gateway has read, whatever its media type says.
        if (file.Pages is { } pages)
            return pages * PdfPage(imageTokenFactor);
        // Bare base64 without a data: prefix, which the Anthropic adapter also takes, is read as such.
        var data = InlineData.TryParse(file.FileData, out var parsed) ? parsed : new InlineData("", file.FileData);
        if (data.IsA("application/pdf") || IsPdf(data.Base64))
            return PdfPages.Count(data.Base64) * PdfPage(imageTokenFactor);
        // Providers that take images and audio as files read them as they read image and audio parts.
        if (data.IsOfKind("image"))
            return (long)Math.Ceiling(ImageTokens.ForPayload(data.Base64, lowDetail: false) * imageTokenFactor);
        if (data.IsOfKind("audio"))
            return AudioTokens.ForSeconds(AudioDuration.Seconds(data.Base64, AudioFormat(data.MediaType)));
        return (Base64Reader.DecodedLength(data.Base64) + BytesPerToken - 1) / BytesPerToken;
    }

    private static long PdfPage(double imageTokenFactor) => PdfPageText + (long)Math.Ceiling(PdfPageImage * imageTokenFactor);

    private static bool IsPdf(ReadOnlySpan<char> base64)
    {
        Span<byte> start = stackalloc byte[4];
        return new Base64Reader(base64).Read(start) == 4 && start.SequenceEqual("%PDF"u8);
    }

    /// <summary>The input_audio format that a media type names, for the formats whose headers give a duration.</summary>
    private static string AudioFormat(ReadOnlySpan<char> mediaType) =>
        mediaType.EndsWith("/wav", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("/x-wav", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("/wave", StringComparison.OrdinalIgnoreCase) ? "wav"
        : mediaType.EndsWith("/mpeg", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("/mp3", StringComparison.OrdinalIgnoreCase) ? "mp3"
        : "";
}
