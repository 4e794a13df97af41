using System.Text;
using Infery.Api.Chat;
using Infery.Api.Providers.Estimates;
using static Infery.Api.Tests.Providers.Estimates.TestMedia;

namespace Infery.Api.Tests.Providers.Estimates;

public sealed class FileTokensTests
{
    [Fact]
    public void A_pdf_reserves_for_every_page_its_text_and_its_image() =>
        FileTokens.Estimate(new FilePart("report.pdf", DataUri("application/pdf", Encoding.ASCII.GetBytes(PdfOfPages(30))), null))
            .ShouldBe(30 * (3_000 + 1_600));

    [Fact]
    public void A_pdf_is_known_by_its_signature_whatever_its_media_type() =>
        FileTokens.Estimate(new FilePart("scan", DataUri("application/octet-stream", Encoding.ASCII.GetBytes(PdfOfPages(3))), null))
            .ShouldBe(3 * FileTokens.PerPdfPage);

    [Fact]
    public void A_text_file_costs_a_token_per_two_bytes()
    {
        var text = Encoding.UTF8.GetBytes(new string('a', 3_000));

        FileTokens.Estimate(new FilePart("notes.txt", DataUri("text/plain", text), null)).ShouldBe(1_500);
        FileTokens.Estimate(new FilePart("data.csv", DataUri("text/csv", text[..999]), null)).ShouldBe(500);
    }

    [Fact]
    public void Images_and_audio_sent_as_files_cost_what_they_would_as_parts()
    {
        FileTokens.Estimate(new FilePart("banner.png", DataUri("image/png", Png(2048, 768)), null)).ShouldBe(1445);
        FileTokens.Estimate(new FilePart("clip.wav", DataUri("audio/wav", Wav(32_000, 96_000)), null)).ShouldBe(3 * AudioTokens.PerSecond);
        // At MP3's lowest bitrate, 8 kbit/s: 48 seconds.
        FileTokens.Estimate(new FilePart("clip.mp3", DataUri("audio/mpeg", Mp3(48_000)), null)).ShouldBe(48 * AudioTokens.PerSecond);
    }

    [Fact]
    public void A_file_sent_by_id_keeps_a_flat_cost() =>
        FileTokens.Estimate(new FilePart(null, null, "file-abc")).ShouldBe(FileTokens.ById);

    [Fact]
    public void Bare_base64_without_a_data_uri_is_read_as_well() =>
        FileTokens.Estimate(new FilePart("a.pdf", Base64(Encoding.ASCII.GetBytes(PdfOfPages(2))), null)).ShouldBe(2 * FileTokens.PerPdfPage);
}
