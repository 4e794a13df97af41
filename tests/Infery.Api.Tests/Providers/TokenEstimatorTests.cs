using Infery.Api.Chat;
using Infery.Api.Providers;
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
    public void Text_costs_a_token_per_four_characters_rounded_up(string? text, int tokens) =>
        TokenEstimator.Count(text).ShouldBe(tokens);

    [Fact]
    public void A_prompt_counts_its_text_per_message_overhead_and_fixed_costs_per_attachment()
    {
        var request = Request([
            SystemMessage("abcd"),
            User(new TextPart("abcdefgh"), new ImagePart("https://example.com/a.png", "low"), new ImagePart("https://example.com/b.png", null),
                new AudioPart("UklGR", "wav"), new FilePart("a.pdf", "data:application/pdf;base64,JVBER", null)),
        ]);

        TokenEstimator.EstimatePrompt(request).ShouldBe(
            TokenEstimator.TokensPerPrompt + 2 * TokenEstimator.TokensPerMessage + 3
            + TokenEstimator.TokensPerLowDetailImage + TokenEstimator.TokensPerImage + TokenEstimator.TokensPerAudio + TokenEstimator.TokensPerFile);
    }

    [Fact]
    public void Tool_definitions_and_earlier_tool_calls_count_as_prompt()
    {
        var plain = Request([User("hi")]);
        var withTools = Request([User("hi"), new ChatMessage("assistant", [], ToolCalls: [new ToolCall("call_1", "lookup", """{"q":"a long query string"}""")])],
            tools: [Tool("lookup", """{"type":"object","properties":{"q":{"type":"string"}}}""")]);

        TokenEstimator.EstimatePrompt(withTools).ShouldBeGreaterThan(TokenEstimator.EstimatePrompt(plain) + TokenEstimator.TokensPerMessage + 10);
    }
}
