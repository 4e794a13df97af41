using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>Three models on one fake upstream: one reads PDFs, one sees images but not PDFs, one reads text only.</summary>
public sealed class PdfModelsGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url)], [Model("reads-pdf", vision: true, pdf: true), Model("sees-images", vision: true, pdf: false), Model("text-only", vision: false, pdf: false)]),
    ConfiguredGatewayFactory.QuickRetries(("PdfConversion:PricePerPage", "0.001"), ("PdfConversion:PageImagePixels", "128"), ("PdfConversion:MaxPages", "3")))
{
    private static string Model(string slug, bool vision, bool pdf) => $$"""
        { "slug": "{{slug}}", "provider": "fake", "upstream_model": "up-{{slug}}", "context_window": 128000, "max_output_tokens": 4096,
          "capabilities": { "vision": {{(vision ? "true" : "false")}}, "pdf": {{(pdf ? "true" : "false")}}, "tools": false, "json_schema": false, "audio_input": false },
          "prices": { "input": 1, "output": 2 } }
        """;
}

/// <summary>
/// A model without native PDF support gets each attached PDF as the text of its pages, with an image of each page
/// when it sees images, and the request pays a price per page beside its tokens; a model that reads PDFs gets the file.
/// </summary>
public sealed class PdfConversionTests(PdfModelsGateway fixture) : IClassFixture<PdfModelsGateway>
{
    private const string Usage = """{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}""";

    /// <summary>5 prompt tokens at 1 credit and 3 completion tokens at 2 credits per million: 11 micro-credits.</summary>
    private const string TokenCost = "0.000011";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_model_that_sees_images_gets_each_page_as_text_and_image_and_two_pages_cost_their_price(bool stream)
    {
        var upstreamContent = CaptureUpstreamContent();
        var (workspace, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await SendAsync(key, "sees-images", stream, TestPdf.DataUri("First page words", "Second page words"));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var parts = await upstreamContent;
        parts.Select(p => p["type"]!.GetValue<string>()).ShouldBe(["text", "text", "image_url", "text", "image_url"]);
        parts[1]["text"]!.GetValue<string>().ShouldBe("[report.pdf, page 1 of 2]\nFirst page words");
        parts[3]["text"]!.GetValue<string>().ShouldBe("[report.pdf, page 2 of 2]\nSecond page words");
        parts[2]["image_url"]!["url"]!.GetValue<string>().ShouldStartWith("data:image/jpeg;base64,");

        var charged = stream ? CreditsUsedChunk(await response.Content.ReadAsStringAsync()) : response.Header("x-credits-used");
        charged.ShouldBe("0.002011");
        var served = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestServed, response.Header("x-request-id"))).ShouldHaveSingleItem();
        served["pdf_pages_converted"]!.GetValue<int>().ShouldBe(2);
        var account = await (await fixture.Gateway.AdminClient().GetAsync($"/admin/v1/workspaces/{workspace}")).JsonAsync();
        account["balance"]!.GetValue<string>().ShouldBe("9.997989");
    }

    [Fact]
    public async Task A_text_only_model_gets_the_text_of_the_pages_and_no_images()
    {
        var upstreamContent = CaptureUpstreamContent();
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await SendAsync(key, "text-only", stream: false, TestPdf.DataUri("Words only"));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var parts = await upstreamContent;
        parts.Select(p => p["type"]!.GetValue<string>()).ShouldBe(["text", "text"]);
        parts[1]["text"]!.GetValue<string>().ShouldBe("[report.pdf, page 1 of 1]\nWords only");
        response.Header("x-credits-used").ShouldBe("0.001011");
    }

    [Fact]
    public async Task A_model_that_reads_pdfs_gets_the_file_as_sent_and_pays_for_tokens_only()
    {
        var upstreamContent = CaptureUpstreamContent();
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var pdf = TestPdf.DataUri("Native reading");

        var response = await SendAsync(key, "reads-pdf", stream: false, pdf);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var parts = await upstreamContent;
        parts[1]["type"]!.GetValue<string>().ShouldBe("file");
        parts[1]["file"]!["file_data"]!.GetValue<string>().ShouldBe(pdf);
        response.Header("x-credits-used").ShouldBe(TokenCost);
        var served = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestServed, response.Header("x-request-id"))).ShouldHaveSingleItem();
        served["pdf_pages_converted"]!.GetValue<int>().ShouldBe(0);
    }

    [Fact]
    public async Task A_damaged_pdf_is_a_400_naming_its_part_and_nothing_is_sent_upstream_or_charged()
    {
        var calls = 0;
        fixture.Upstream.Handler = ctx => { Interlocked.Increment(ref calls); return Task.CompletedTask; };
        var (workspace, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await SendAsync(key, "sees-images", stream: false, "data:application/pdf;base64," + Convert.ToBase64String("%PDF-1.4 cut short"u8.ToArray()));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = (await response.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("invalid_pdf");
        error["param"]!.GetValue<string>().ShouldBe("messages[0].content[1]");
        calls.ShouldBe(0);
        var account = await (await fixture.Gateway.AdminClient().GetAsync($"/admin/v1/workspaces/{workspace}")).JsonAsync();
        account["balance"]!.GetValue<string>().ShouldBe("10.000000");
    }

    [Fact]
    public async Task More_pages_than_may_be_converted_for_one_request_are_refused_before_anything_is_reserved()
    {
        var calls = 0;
        fixture.Upstream.Handler = ctx => { Interlocked.Increment(ref calls); return Task.CompletedTask; };
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await SendAsync(key, "text-only", stream: false, TestPdf.DataUri("1", "2", "3", "4"));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = (await response.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("pdf_too_many_pages");
        error["message"]!.GetValue<string>().ShouldContain("4 pages");
        calls.ShouldBe(0);
    }

    [Fact]
    public async Task More_than_twenty_different_pdfs_are_refused_before_anything_is_reserved()
    {
        var calls = 0;
        fixture.Upstream.Handler = ctx => { Interlocked.Increment(ref calls); return Task.CompletedTask; };
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var parts = new JsonArray(Enumerable.Range(1, 21).Select(n => (JsonNode)new JsonObject
        {
            ["type"] = "file",
            ["file"] = new JsonObject { ["filename"] = $"{n}.pdf", ["file_data"] = TestPdf.DataUri($"PDF {n}") },
        }).ToArray());

        var response = await fixture.Gateway.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", new JsonObject
        {
            ["model"] = "reads-pdf",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = parts }),
        });

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = (await response.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("too_many_pdfs");
        error["param"]!.GetValue<string>().ShouldBe("messages[0].content[20]");
        calls.ShouldBe(0);
    }

    private Task<HttpResponseMessage> SendAsync(string key, string model, bool stream, string pdfDataUri) =>
        fixture.Gateway.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", new JsonObject
        {
            ["model"] = model,
            ["stream"] = stream,
            ["max_tokens"] = 100,
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "Summarise this." },
                    new JsonObject { ["type"] = "file", ["file"] = new JsonObject { ["filename"] = "report.pdf", ["file_data"] = pdfDataUri } }),
            }),
        });

    /// <summary>Answers every call, streamed or not, and hands over the content of the first message the upstream was sent.</summary>
    private Task<List<JsonObject>> CaptureUpstreamContent()
    {
        var captured = new TaskCompletionSource<List<JsonObject>>(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.Upstream.Handler = async ctx =>
        {
            var sent = JsonNode.Parse(await new StreamReader(ctx.Request.Body).ReadToEndAsync())!;
            captured.TrySetResult(sent["messages"]![0]!["content"]!.AsArray().Select(p => p!.AsObject()).ToList());
            if (sent["stream"]!.GetValue<bool>())
            {
                await FakeUpstream.WriteSseAsync(ctx, [
                    """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":"A summary"},"finish_reason":"stop"}]}""" + "\n\n",
                    $$"""data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{{Usage}}}""" + "\n\n",
                    "data: [DONE]\n\n",
                ]);
                return;
            }
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync($$"""
                {"id":"u","object":"chat.completion","created":1,"model":"up","usage":{{Usage}},
                 "choices":[{"index":0,"message":{"role":"assistant","content":"A summary"},"finish_reason":"stop"}]}
                """);
        };
        return captured.Task;
    }

    private static string CreditsUsedChunk(string sse) =>
        GatewayClients.SseData(sse).Single(e => e["credits_used"] is not null)["credits_used"]!.GetValue<string>();
}
