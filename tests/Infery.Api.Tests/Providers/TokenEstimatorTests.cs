using System.Text.Json.Nodes;
using Infery.Api.Chat;
using Infery.Api.Providers;
using Infery.Api.Providers.Estimates;
using static Infery.Api.Tests.Providers.Estimates.TestMedia;
using static Infery.Api.Tests.Providers.TestChat;

namespace Infery.Api.Tests.Providers;

public sealed class TokenEstimatorTests
{
    [Theory]
    [InlineData(null, 0)]
    [InlineData("", 0)]
    [InlineData("a", 1)]
    [InlineData("abcd", 1)]
    [InlineData("abcde", 2)]
    public void Ascii_text_costs_a_token_per_four_characters_rounded_up(string? text, int tokens) =>
        TokenEstimator.Count(text).ShouldBe(tokens);

    [Theory]
    [InlineData("東京都の天気", 6)]
    [InlineData("Привет", 6)]
    [InlineData("héllo", 2)]
    [InlineData("naïve café", 4)]
    [InlineData("👍", 2)]
    public void Each_character_outside_ascii_costs_a_token(string text, int tokens) =>
        TokenEstimator.Count(text).ShouldBe(tokens);

    [Fact]
    public void A_prompt_counts_its_text_per_message_overhead_and_each_attachment_by_its_own_rule()
    {
        var audio = new AudioPart(Base64(Wav(32_000, 96_000)), "wav");
        var pdf = new FilePart("a.pdf", DataUri("application/pdf", System.Text.Encoding.ASCII.GetBytes(PdfOfPages(2))), null);
        var request = Request([
            SystemMessage("abcd"),
            User(new TextPart("abcdefgh"), new ImagePart("https://example.com/a.png", "low"), new ImagePart(DataUri("image/png", Png(1024, 1024)), null),
                audio, pdf),
        ]);

        TokenEstimator.EstimatePrompt(request).ShouldBe(
            TokenEstimator.TokensPerPrompt + 2 * TokenEstimator.TokensPerMessage + 3
            + ImageTokens.UnknownSize + 1399 + 3 * AudioTokens.PerSecond + 2 * FileTokens.PerPdfPage);
    }

    [Fact]
    public void A_pdf_reserves_for_every_page()
    {
        var request = Request([User(new TextPart("Summarise this"),
            new FilePart("book.pdf", DataUri("application/pdf", System.Text.Encoding.ASCII.GetBytes(PdfOfPages(30))), null))]);

        TokenEstimator.EstimatePrompt(request).ShouldBeGreaterThanOrEqualTo(30 * 4_600);
    }

    [Fact]
    public void Tool_definitions_and_earlier_tool_calls_count_as_prompt()
    {
        var plain = Request([User("hi")]);
        var withTools = Request([User("hi"), new ChatMessage("assistant", [], ToolCalls: [new ToolCall("call_1", "lookup", """{"q":"a long query string"}""")])],
            tools: [Tool("lookup", """{"type":"object","properties":{"q":{"type":"string"}}}""")]);

        TokenEstimator.EstimatePrompt(withTools).ShouldBeGreaterThan(TokenEstimator.EstimatePrompt(plain) + TokenEstimator.TokensPerMessage + 10);
    }

    [Fact]
    public void Non_ascii_names_tool_calls_and_tool_descriptions_cost_a_token_a_character()
    {
        static ChatRequest WithText(string text) => Request(
            [new ChatMessage("user", [new TextPart("hi")], Name: text), new ChatMessage("assistant", [], ToolCalls: [new ToolCall("call_1", "lookup", text)])],
            tools: [new ToolDefinition("lookup", text, null, Strict: false)]);

        var extra = TokenEstimator.EstimatePrompt(WithText("天気予報天気予報")) - TokenEstimator.EstimatePrompt(WithText("abcdefgh"));

        extra.ShouldBe(3 * (8 - 2));
    }

    [Fact]
    public void A_schema_with_non_ascii_text_costs_more_than_its_characters_over_four()
    {
        static ChatRequest WithSchema(string description) => Request([User("hi")],
            responseFormat: new ResponseFormat("json_schema", "answer", new JsonObject { ["description"] = description }));

        TokenEstimator.EstimatePrompt(WithSchema("天気予報天気予報")).ShouldBeGreaterThanOrEqualTo(TokenEstimator.EstimatePrompt(WithSchema("abcdefgh")) + 6);
    }

    [Fact]
    public void Estimating_a_text_prompt_allocates_nothing()
    {
        var request = Request([SystemMessage("You are terse."), User("What is the capital of France? Réponds en français, s'il te plaît."),
            new ChatMessage("assistant", [new TextPart("Paris.")], Name: "helper")]);
        for (var i = 0; i < 100; i++)
            TokenEstimator.EstimatePrompt(request);

        var before = GC.GetAllocatedBytesForCurrentThread();
        TokenEstimator.EstimatePrompt(request);

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
    }
}
