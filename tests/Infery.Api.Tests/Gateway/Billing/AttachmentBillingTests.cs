using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;
using static Infery.Api.Tests.Providers.Estimates.TestMedia;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// Fake upstream models that read images, audio and PDFs, at 1 credit per million input tokens and 2 per million
/// output; fake-mini counts images as gpt-4o-mini does, about 33 times the common rules.
/// </summary>
public sealed class AttachmentReadingGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url, firstByteMs: 10_000, idleMs: 10_000)], [ReaderModel("fake-reader", ""), ReaderModel("fake-mini", "\"image_token_factor\": 33.34,")]),
    ConfiguredGatewayFactory.QuickRetries())
{
    private static string ReaderModel(string slug, string extra) => $$"""
        { "slug": "{{slug}}", "provider": "fake", "upstream_model": "up-reader", "context_window": 1000000, "max_output_tokens": 4096, {{extra}}
          "capabilities": { "vision": true, "pdf": true, "tools": false, "json_schema": false, "audio_input": true },
          "prices": { "input": 1, "output": 2 } }
        """;
}

/// <summary>
/// The charge is capped at the reservation, so the reservation for an attachment must hold what a provider
/// counts for it: a request is charged in full however long its PDF, audio, image or non-Latin text.
/// </summary>
public sealed class AttachmentBillingTests(AttachmentReadingGateway fixture) : IClassFixture<AttachmentReadingGateway>
{
    [Fact]
    public async Task A_multi_page_pdf_is_charged_for_every_token_the_upstream_counts()
    {
        var pdf = Encoding.ASCII.GetBytes(PdfOfPages(12));
        var part = new JsonObject
        {
            ["type"] = "file",
            ["file"] = new JsonObject { ["filename"] = "report.pdf", ["file_data"] = DataUri("application/pdf", pdf) },
        };

        // A reservation of a flat 2,000 tokens for any file would cap this charge at about a twentieth.
        await AssertChargedInFullAsync(part, promptTokens: 12 * 4_000);
    }

    [Fact]
    public async Task A_pdf_whose_page_names_a_scan_cannot_see_is_charged_for_every_page_a_reader_sees()
    {
        var part = new JsonObject
        {
            ["type"] = "file",
            ["file"] = new JsonObject
            {
                ["filename"] = "escaped.pdf",
                ["file_data"] = Fakes.TestPdf.DataUri(Fakes.TestPdf.WithEscapedNames([.. Enumerable.Range(1, 12).Select(n => $"Page {n}")])),
            },
        };

        await AssertChargedInFullAsync(part, promptTokens: 12 * 4_000);
    }

    [Fact]
    public async Task A_pdf_sent_as_an_octet_stream_behind_stray_bytes_is_charged_for_every_page()
    {
        var pdf = Fakes.TestPdf.WithPages([.. Enumerable.Range(1, 12).Select(n => $"Page {n}")]);
        var part = new JsonObject
        {
            ["type"] = "file",
            ["file"] = new JsonObject { ["filename"] = "scan.pdf", ["file_data"] = DataUri("application/octet-stream", [.. "xx\n"u8, .. pdf]) },
        };

        await AssertChargedInFullAsync(part, promptTokens: 12 * 4_000);
    }

    [Fact]
    public async Task An_image_to_a_model_that_counts_images_like_gpt_4o_mini_is_charged_for_every_token_it_counts()
    {
        var part = new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = DataUri("image/png", Png(1_024, 1_024)) } };

        // gpt-4o-mini: 2,833 tokens and 5,667 for each of the image's four 512-pixel tiles.
        await AssertChargedInFullAsync(part, promptTokens: 2_833 + 4 * 5_667, model: "fake-mini");
    }

    [Fact]
    public async Task A_long_chinese_prompt_is_charged_for_every_token_the_upstream_counts() =>
        await AssertChargedInFullAsync(new JsonObject { ["type"] = "text", ["text"] = new string('字', 20_000) }, promptTokens: 20_000);

    [Fact]
    public async Task Two_minutes_of_audio_are_charged_for_every_token_the_upstream_counts()
    {
        var wav = Wav(byteRate: 8_000, dataBytes: 120 * 8_000);
        var part = new JsonObject { ["type"] = "input_audio", ["input_audio"] = new JsonObject { ["data"] = Base64(wav), ["format"] = "wav" } };

        await AssertChargedInFullAsync(part, promptTokens: 120 * 32);
    }

    [Fact]
    public async Task A_large_image_is_charged_for_every_token_the_upstream_counts()
    {
        var part = new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = DataUri("image/png", Png(4_000, 4_000)) } };

        await AssertChargedInFullAsync(part, promptTokens: 16 * 258);
    }

    private async Task AssertChargedInFullAsync(JsonObject part, int promptTokens, string model = "fake-reader")
    {
        fixture.Upstream.Handler = Reporting(promptTokens, completionTokens: 1);
        var (workspace, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(credits: 1);

        var response = await fixture.Gateway.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = 1,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(part) }),
        });

        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        // A micro-credit per input token and two per output token, at the catalog's prices.
        var cost = promptTokens * 1L + 1 * 2L;
        response.Header("x-credits-used").ShouldBe((cost / 1_000_000m).ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture));
        var ledger = new Ledger(fixture.Gateway.ConnectionString);
        (await ledger.ChargesAsync(workspace)).ShouldBe([(response.Header("x-request-id"), cost)]);
        (await ledger.BalanceAsync(workspace)).ShouldBe(1_000_000 - cost);
    }

    /// <summary>Answers with one token and reports the prompt at the size the test says the provider counted.</summary>
    private static RequestDelegate Reporting(int promptTokens, int completionTokens) => async ctx =>
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync($$$"""
            {"id":"chatcmpl-upstream","object":"chat.completion","created":1,"model":"up-reader",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Yes"},"finish_reason":"length"}],
             "usage":{"prompt_tokens":{{{promptTokens}}},"completion_tokens":{{{completionTokens}}},"total_tokens":{{{promptTokens + completionTokens}}}}}
            """);
    };
}
