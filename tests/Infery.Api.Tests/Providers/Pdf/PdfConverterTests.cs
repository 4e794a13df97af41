using Infery.Api.Providers.Pdf;
using Infery.Api.Tests.Fakes;
using Microsoft.Extensions.Options;

namespace Infery.Api.Tests.Providers.Pdf;

/// <summary>Runs poppler's tools for real, on PDFs made in the test.</summary>
public sealed class PdfConverterTests
{
    private static PdfConverter Converter(int maxPages = 100) => new(Options.Create(new PdfConversionOptions { MaxPages = maxPages, PageImagePixels = 256 }));

    [Fact]
    public async Task Every_page_gives_its_text_and_when_asked_a_jpeg()
    {
        var pdf = await Converter().ConvertAsync(TestPdf.WithPages("First page words", "Second page words"), "messages[0].content[0]", withPageImages: true, default);

        pdf.Pages.ShouldBe(2);
        pdf.PageTexts[0].ShouldBe("First page words");
        pdf.PageTexts[1].ShouldBe("Second page words");
        pdf.PageImageDataUris.Count.ShouldBe(2);
        pdf.PageImageDataUris.ShouldAllBe(image => image.StartsWith("data:image/jpeg;base64,/9j/"));
    }

    [Fact]
    public async Task Without_images_only_the_text_is_made()
    {
        var pdf = await Converter().ConvertAsync(TestPdf.WithPages("Only text"), "p", withPageImages: false, default);

        pdf.PageTexts.ShouldBe(["Only text"]);
        pdf.PageImageDataUris.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_file_that_is_not_a_pdf_is_refused_as_a_bad_request_naming_the_part()
    {
        var refused = await Should.ThrowAsync<PdfConversionException>(
            Converter().ConvertAsync("not a pdf at all"u8.ToArray(), "messages[0].content[1]", withPageImages: true, default));

        refused.Error.Status.ShouldBe(400);
        refused.Error.Code.ShouldBe("invalid_pdf");
        refused.Error.Param.ShouldBe("messages[0].content[1]");
    }

    [Fact]
    public async Task A_pdf_longer_than_the_page_limit_is_refused()
    {
        var refused = await Should.ThrowAsync<PdfConversionException>(
            Converter(maxPages: 2).ConvertAsync(TestPdf.WithPages("one", "two", "three"), "p", withPageImages: false, default));

        refused.Error.Status.ShouldBe(400);
        refused.Error.Code.ShouldBe("pdf_too_many_pages");
        refused.Error.Message.ShouldContain("3 pages");
    }
}
