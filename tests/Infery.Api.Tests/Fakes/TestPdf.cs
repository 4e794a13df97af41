using System.Text;

namespace Infery.Api.Tests.Fakes;

/// <summary>
/// Small, valid PDFs made by hand: a page of Helvetica text per string (a line per line of it), with a correct
/// cross-reference table.
/// </summary>
public static class TestPdf
{
    public static byte[] WithPages(params string[] pageTexts) => Build(pageTexts, hideNames: false);

    /// <summary>
    /// The same PDF with <c>/Type</c>, <c>/Page</c> and <c>/Count</c> written with #xx escapes, as PDF allows:
    /// readers see the same names, a scan for the plain ones finds none.
    /// </summary>
    public static byte[] WithEscapedNames(params string[] pageTexts) => Build(pageTexts, hideNames: true);

    public static string DataUri(byte[] pdf) => "data:application/pdf;base64," + Convert.ToBase64String(pdf);

    public static string DataUri(params string[] pageTexts) => DataUri(WithPages(pageTexts));

    private static byte[] Build(string[] pageTexts, bool hideNames)
    {
        var (type, page, count) = hideNames ? ("/Ty#70e", "/P#61ge", "/C#6funt") : ("/Type", "/Page", "/Count");
        var objects = new List<string>
        {
            $"<< {type} /Catalog /Pages 2 0 R >>",
            $"<< {type} /Pages /Kids [{string.Join(" ", pageTexts.Select((_, i) => $"{4 + 2 * i} 0 R"))}] {count} {pageTexts.Length} >>",
            $"<< {type} /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        };
        for (var i = 0; i < pageTexts.Length; i++)
        {
            var lines = pageTexts[i].Split('\n').Select(line => $"({line}) Tj");
            var content = $"BT /F1 6 Tf 20 780 Td 7 TL {string.Join(" T* ", lines)} ET";
            objects.Add($"<< {type} {page} /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>");
            objects.Add($"<< /Length {content.Length} >>\nstream\n{content}\nendstream");
        }

        var pdf = new StringBuilder("%PDF-1.4\n");
        var offsets = new List<int>();
        for (var i = 0; i < objects.Count; i++)
        {
            offsets.Add(pdf.Length);
            pdf.Append($"{i + 1} 0 obj\n{objects[i]}\nendobj\n");
        }
        var xref = pdf.Length;
        pdf.Append($"xref\n0 {objects.Count + 1}\n0000000000 65535 f \n");
        foreach (var offset in offsets)
            pdf.Append($"{offset:D10} 00000 n \n");
        pdf.Append($"trailer\n<< /Size {objects.Count + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n");
        return Encoding.ASCII.GetBytes(pdf.ToString());
    }
}
