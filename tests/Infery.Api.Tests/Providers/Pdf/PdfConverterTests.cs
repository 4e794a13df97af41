using Infery.Api.Providers;
using Infery.Api.Providers.Estimates;
using Infery.Api.Providers.Pdf;
using Infery.Api.Tests.Fakes;
using Microsoft.Extensions.Options;

namespace Infery.Api.Tests.Providers.Pdf;

/// <summary>Runs poppler's tools for real, on PDFs made in the test.</summary>
public sealed class PdfConverterTests
{
    private static readonly PdfConverter Converter = new(Options.Create(new PdfConversionOptions { PageImagePixels = 256 }));

    [Fact]
    public async Task Pages_are_counted_as_a_reader_sees_them_even_where_a_scan_for_names_finds_none()
    {
        (await Converter.CountPagesAsync(TestPdf.WithPages("one", "two"), "p", default)).ShouldBe(2);
        (await Converter.CountPagesAsync(TestPdf.WithEscapedNames("one", "two", "three"), "p", default)).ShouldBe(3);
    }

    [Fact]
    public async Task Every_page_gives_its_text_and_when_asked_a_jpeg()
    {
        var pdf = await Converter.ConvertAsync(TestPdf.WithPages("First page words", "Second page words"), 2, "messages[0].content[0]", withPageImages: true, default);

        pdf.Pages.ShouldBe(2);
        pdf.PageTexts[0].ShouldBe("First page words");
        pdf.PageTexts[1].ShouldBe("Second page words");
        pdf.PageImageDataUris.Count.ShouldBe(2);
        pdf.PageImageDataUris.ShouldAllBe(image => image.StartsWith("data:image/jpeg;base64,/9j/"));
    }

    [Fact]
    public async Task Without_images_only_the_text_is_made()
    {
        var pdf = await Converter.ConvertAsync(TestPdf.WithPages("Only text"), 1, "p", withPageImages: false, default);

        pdf.PageTexts.ShouldBe(["Only text"]);
        pdf.PageImageDataUris.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_page_of_more_text_than_a_page_is_reserved_for_is_cut_to_it_and_says_so()
    {
        var line = string.Concat(Enumerable.Repeat("dense text ", 11));
        var page = string.Join("\n", Enumerable.Repeat(line, 110));

        var pdf = await Converter.ConvertAsync(TestPdf.WithPages(page), 1, "p", withPageImages: false, default);

        TokenEstimator.Count(pdf.PageTexts[0]).ShouldBeLessThanOrEqualTo(FileTokens.PdfPageText);
        pdf.PageTexts[0].ShouldStartWith("dense text");
        pdf.PageTexts[0].ShouldEndWith("[the rest of this page's text is left out]");
    }

    [Fact]
    public async Task A_file_that_is_not_a_pdf_is_refused_as_a_bad_request_naming_the_part()
    {
        var refused = await Should.ThrowAsync<PdfConversionException>(
            Converter.CountPagesAsync("not a pdf at all"u8.ToArray(), "messages[0].content[1]", default));

        refused.Error.Status.ShouldBe(400);
        refused.Error.Code.ShouldBe("invalid_pdf");
        refused.Error.Param.ShouldBe("messages[0].content[1]");
    }
}
