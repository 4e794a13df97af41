namespace Infery.Api.Providers.Pdf;

/// <summary>From the configuration section "PdfConversion".</summary>
public sealed class PdfConversionOptions
{
    public const string Section = "PdfConversion";

    /// <summary>Credits charged per page converted for a model without native PDF support, beside its tokens.</summary>
    public decimal PricePerPage { get; set; } = 0.001m;

    /// <summary>Longer PDFs are refused, as OpenAI and Anthropic refuse them.</summary>
    public int MaxPages { get; set; } = 100;

    /// <summary>How long each conversion step may take before the PDF is refused as too complex.</summary>
    public int TimeoutMs { get; set; } = 30_000;

    /// <summary>The longer side of each page image, in pixels.</summary>
    public int PageImagePixels { get; set; } = 1024;
}
