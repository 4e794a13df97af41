using System.Text;
using Infery.Api.Providers.Estimates;
using static Infery.Api.Tests.Providers.Estimates.TestMedia;

namespace Infery.Api.Tests.Providers.Estimates;

public sealed class PdfPagesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(30)]
    public void Each_page_dictionary_is_a_page_and_the_page_tree_is_not(int pages) =>
        PdfPages.Count(Encode(PdfOfPages(pages))).ShouldBe(pages);

    [Theory]
    [InlineData("/Type/Page")]
    [InlineData("/Type\r\n/Page")]
    [InlineData("/Type /Page/Parent 2 0 R")]
    public void Page_types_are_found_however_they_are_spaced(string pageType) =>
        PdfPages.Count(Encode(PdfOfPages(4, pageType))).ShouldBe(4);

    [Fact]
    public void Names_written_with_hex_escapes_are_read_as_readers_read_them()
    {
        PdfPages.Count(Convert.ToBase64String(Fakes.TestPdf.WithEscapedNames("1", "2", "3", "4", "5"))).ShouldBe(5);
        PdfPages.Count(Encode("%PDF-1.4\n<< /Type /P#61ges /C#6funt 12 >>")).ShouldBe(12);
    }

    [Fact]
    public void A_name_that_only_begins_with_page_is_not_a_page() =>
        PdfPages.Count(Encode("%PDF-1.4\n<< /Type /PageTemplate >> << /Type /Page >>")).ShouldBe(1);

    [Fact]
    public void Pages_of_a_large_pdf_are_all_counted_across_the_pieces_it_is_scanned_in() =>
        PdfPages.Count(Encode(PdfOfPages(300, filler: new string('x', 997) + "\n"))).ShouldBe(300);

    [Fact]
    public void A_page_type_cut_by_the_boundary_between_two_pieces_is_counted_once()
    {
        for (var offset = PdfPages.Piece - 80; offset < PdfPages.Piece + 8; offset++)
        {
            var pdf = "%PDF-1.4\n" + new string(' ', offset - 9) + "<< /Type /Page >>" + new string(' ', 100);
            PdfPages.Count(Encode(pdf)).ShouldBe(1, $"with the page type at byte {offset}");
        }
    }

    [Fact]
    public void Pages_hidden_in_compressed_object_streams_are_counted_by_the_page_tree()
    {
        // No page dictionary shows; the largest /Count is the page tree's root, an outline's is smaller.
        var pdf = "%PDF-1.7\n5 0 obj << /Type /ObjStm /N 40 /First 300 /Filter /FlateDecode >> stream\n\x01\x02\x03\nendstream\n"
            + "9 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 42 >> endobj\n10 0 obj << /Type /Outlines /Count 5 >> endobj\n";

        PdfPages.Count(Encode(pdf)).ShouldBe(42);
    }

    [Fact]
    public void A_pdf_that_shows_neither_is_taken_as_a_page_per_3_kb()
    {
        var pdf = new byte[10_000];
        Random.Shared.NextBytes(pdf);
        pdf = [.. "%PDF-1.7\n"u8, .. pdf.Select(b => b == (byte)'/' ? (byte)'x' : b)];

        PdfPages.Count(Base64(pdf)).ShouldBe(4);
    }

    [Fact]
    public void Even_an_empty_pdf_is_a_page() =>
        PdfPages.Count("").ShouldBe(1);

    private static string Encode(string pdf) => Base64(Encoding.Latin1.GetBytes(pdf));
}
