using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Providers;
using Infery.Api.Providers.OpenAiCompatible;
using static Infery.Api.Tests.Providers.TestChat;

namespace Infery.Api.Tests.Providers.OpenAiCompatible;

/// <summary>
/// The rewriter against <see cref="DomReference"/>, the way the provider handled the same JSON as JSON objects:
/// the same JSON out (compared parsed, and in property order), the same usage, choices, finish and character counts.
/// </summary>
public sealed class OpenAiJsonRewriterTests
{
    private static readonly ChatCall TestCall = Call(Request([User("Hello")], stream: true), Model("gpt-upstream", "openai/gpt-test"));

    public static TheoryData<string> Chunks => new()
    {
        Chunk("""{"role":"assistant","content":"Hello"}"""),
        Chunk("""{"content":"He said \"hi\"\\ and left.\n"}"""),
        Chunk("""{"content":"caf\u00e9 \u00E9t\u00e9"}"""),
        Chunk("""{"content":"\ud83d\ude00 and 😀 and é and ☃"}"""),
        Chunk("""{"content":"\/\b\f\n\r\t"}"""),
        Chunk("""{"reasoning_content":"Let me think","reasoning":"step one","refusal":"I can't"}"""),
        Chunk("""{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}"""),
        Chunk("""{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Par"}},{"index":1,"function":{"name":"lookup","arguments":"{}"}}]}"""),
        Chunk("""{"content":42,"refusal":["no"],"tool_calls":{"function":{"arguments":"x"}}}"""),
        Chunk("""{"tool_calls":[null,7,{"function":null},{"function":{"name":1,"arguments":{"a":"b"}}}]}"""),
        Chunk("{}", "\"stop\""),
        Chunk("{}", "\"length\"", usage: """{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}"""),
        Chunk("{}", "1"),
        Chunk("{}", "{\"type\":\"stop\"}"),
        """{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"gpt-upstream","choices":[],"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0}}}""",
        """{"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":"82","completion_tokens":1.5,"prompt_tokens_details":{"cached_tokens":1e3}}}""",
        """{"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":99999999999,"completion_tokens":-1,"prompt_tokens_details":null}}""",
        """{"object":"chat.completion.chunk","usage":{"prompt_tokens":5,"completion_tokens":1}}""",
        """{"object":"chat.completion.chunk","choices":null,"usage":null}""",
        """{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"no id, created or model"},"finish_reason":null}]}""",
        """{"choices":[{"index":0,"delta":{"content":"model first"}}],"model":"m","object":"chat.completion.chunk","created":5,"id":"x"}""",
        """{"\u0069d":"escaped name","choices":[{"delta":{"cont\u0065nt":"escaped content name"},"finish_reason":null}],"na\u006De":"other"}""",
        """{"id":"x","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null},{"index":1,"delta":{"content":"bc"},"finish_reason":"stop"}],"error":null}""",
        """{"id":"x","choices":[{"index":0,"message":{"content":"a message, not a delta"},"finish_reason":null}]}""",
        """{"id":"x","choices":[1,"two",null,[]]}""",
        "{\n  \"id\": \"x\",\n  \"choices\": [\n    {\"index\": 0, \"delta\": {\"content\": \"pretty\"},\r\n     \"finish_reason\": null}\n  ],\n  \"system_fingerprint\": \"fp\"\n}",
        """  {"id":"x","choices":[{"delta":{"content":"padded"}}]}  """,
        """{"id":"x","choices":[{"delta":{"content":"deep"}}],"extra":{"a":[1,2,{"b":[true,false,null,-0.5e+3]}],"ünïcödé":"值"}}""",
    };

    [Theory]
    [MemberData(nameof(Chunks))]
    public void A_chunk_is_rewritten_and_read_as_its_json_object_was(string json)
    {
        var expected = DomReference.Chunk(json, TestCall);
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        var chunk = rewriter.RewriteChunk(Encoding.UTF8.GetBytes(json));

        chunk.IsObject.ShouldBeTrue();
        chunk.HasError.ShouldBeFalse();
        chunk.Usage.ShouldBe(expected.Usage);
        (chunk.ChoiceCount is > 0).ShouldBe(expected.Forwarded is not null);
        if (expected.Forwarded is not { } forwarded)
            return;
        chunk.GeneratedChars.ShouldBe(expected.GeneratedChars);
        chunk.Finished.ShouldBe(expected.Finished);
        chunk.ReceivedChars.ShouldBe(((ChatJson)forwarded).ReceivedChars);
        ShouldBeTheSameJson(chunk.Rewritten, forwarded);
    }

    public static TheoryData<string> Completions => new()
    {
        Completion("""{"role":"assistant","content":"Hello there","refusal":null}""", usage: """{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":8}}"""),
        Completion("""{"role":"assistant","content":"An answer of some length, with \"quotes\" and caf\u00e9"}""", usage: null),
        Completion("""{"role":"assistant","content":"usage is null","reasoning_content":"hmm"}""", usage: "null"),
        Completion("""{"role":"assistant","content":"usage is a string"}""", usage: "\"none\""),
        Completion("""{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}""", usage: null),
        """{"choices":[],"usage":null,"object":"chat.completion"}""",
        """{"object":"chat.completion","choices":[{"index":0,"message":{"content":"no id, created, model or usage"},"finish_reason":"stop"}]}""",
        "{\n \"id\": \"chatcmpl-1\",\n \"choices\": [\n  {\"message\": {\"content\": \"pretty\"}}\n ],\n \"usage\": {\n  \"prompt_tokens\": 3, \"completion_tokens\": 1\n }\n}",
    };

    [Theory]
    [MemberData(nameof(Completions))]
    public void A_completion_is_rewritten_and_read_as_its_json_object_was(string json)
    {
        var expected = DomReference.Completion(json, TestCall);
        using var rewriter = new OpenAiJsonRewriter(TestCall);
        var utf8 = Encoding.UTF8.GetBytes(json);

        var completion = rewriter.ReadCompletion(utf8);
        var usage = completion.Usage
            ?? new TokenUsage(TokenEstimator.EstimatePrompt(TestCall.Request), TokenEstimator.FromChars(completion.GeneratedChars));
        var rewritten = rewriter.RewriteCompletion(utf8, completion.Usage is null ? usage : null);

        completion.ChoiceCount.ShouldNotBeNull();
        usage.ShouldBe(expected.Usage);
        ShouldBeTheSameJson(rewritten, expected.Completion);
    }

    [Fact]
    public void Values_other_than_id_created_model_and_usage_are_copied_byte_for_byte()
    {
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        var chunk = rewriter.RewriteChunk("""{"id":"up","choices":[{"delta":{"content":"caf\u00e9 \"x\""},"finish_reason":null}],"x_extra":{"n":1.50,"s":"\/"},"usage":null,"model":"m"}"""u8);

        Encoding.UTF8.GetString(chunk.Rewritten.Span).ShouldBe(
            """{"id":"chatcmpl-test123","choices":[{"delta":{"content":"caf\u00e9 \"x\""},"finish_reason":null}],"x_extra":{"n":1.50,"s":"\/"},"model":"openai/gpt-test","created":1767225600}""");
    }

    [Fact]
    public void Escaped_text_counts_its_characters_once_unescaped()
    {
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        var chunk = rewriter.RewriteChunk("""{"choices":[{"delta":{"content":"\"\\\u00e9\ud83d\ude00😀é"}}]}"""u8);

        // " \ é, then a surrogate pair escaped and one as UTF-8, then é as UTF-8: as string.Length counts them.
        chunk.GeneratedChars.ShouldBe("\"\\é😀😀é".Length);
        chunk.GeneratedChars.ShouldBe(8);
    }

    [Fact]
    public void A_json_line_break_between_tokens_does_not_break_the_line()
    {
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        var chunk = rewriter.RewriteChunk("{\"choices\":[\r\n{\"delta\":{\"content\":\"a\\nb\"}}\n]}"u8);

        chunk.Rewritten.Span.IndexOfAny((byte)'\r', (byte)'\n').ShouldBe(-1);
        JsonNode.Parse(chunk.Rewritten.Span)!["choices"]![0]!["delta"]!["content"]!.GetValue<string>().ShouldBe("a\nb");
    }

    [Fact]
    public void A_finish_reason_of_null_does_not_finish_the_reply()
    {
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        rewriter.RewriteChunk(Encoding.UTF8.GetBytes(Chunk("""{"content":"a"}""", "null"))).Finished.ShouldBeFalse();
        rewriter.RewriteChunk(Encoding.UTF8.GetBytes(Chunk("""{"content":"a"}""", "\"stop\""))).Finished.ShouldBeTrue();
    }

    [Theory]
    [InlineData("""{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}""")]
    [InlineData("""{"id":"x","choices":[{"delta":{"content":"a"}}],"error":"a plain string"}""")]
    [InlineData("""{"error":0}""")]
    public void An_error_property_that_is_not_null_is_noticed(string json)
    {
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        rewriter.RewriteChunk(Encoding.UTF8.GetBytes(json)).HasError.ShouldBeTrue();
        rewriter.ReadCompletion(Encoding.UTF8.GetBytes(json)).HasError.ShouldBeTrue();
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"id":"x",}""")]
    [InlineData("""{"id":"x"} trailing""")]
    [InlineData("""{"id":"x"}{"id":"y"}""")]
    [InlineData("""{"choices":[{"delta":{"content":"raw""" + "\n" + """ line break"}}]}""")]
    [InlineData("""{"choices":[{"delta":{"content":"\x"}}]}""")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("[1, 2")]
    public void Anything_a_json_parser_refuses_is_refused(string json)
    {
        Should.Throw<JsonException>(() => JsonNode.Parse(json));
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        Should.Throw<JsonException>(() => rewriter.RewriteChunk(Encoding.UTF8.GetBytes(json)));
        Should.Throw<JsonException>(() => rewriter.ReadCompletion(Encoding.UTF8.GetBytes(json)));
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void Valid_json_that_is_not_an_object_is_noticed(string json)
    {
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        rewriter.RewriteChunk(Encoding.UTF8.GetBytes(json)).IsObject.ShouldBeFalse();
        rewriter.ReadCompletion(Encoding.UTF8.GetBytes(json)).IsObject.ShouldBeFalse();
    }

    [Fact]
    public void Malformed_utf8_becomes_replacement_characters_as_text_decoding_made_it()
    {
        byte[] json = [.. """{"id":"x","choices":[{"delta":{"content":"a"""u8, 0xFF, 0xC3, .. """b"}}]}"""u8];
        var expected = DomReference.Chunk(Encoding.UTF8.GetString(json), TestCall);
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        var chunk = rewriter.RewriteChunk(json);

        ShouldBeTheSameJson(chunk.Rewritten, expected.Forwarded!);
        chunk.GeneratedChars.ShouldBe(expected.GeneratedChars);
        JsonNode.Parse(chunk.Rewritten.Span)!["choices"]![0]!["delta"]!["content"]!.GetValue<string>().ShouldBe("a\uFFFD\uFFFDb");
    }

    [Fact]
    public void Each_rewrite_reuses_the_buffer_of_the_one_before()
    {
        using var rewriter = new OpenAiJsonRewriter(TestCall);

        var first = rewriter.RewriteChunk(Encoding.UTF8.GetBytes(Chunk("""{"content":"first"}"""))).Rewritten;
        var second = rewriter.RewriteChunk(Encoding.UTF8.GetBytes(Chunk("""{"content":"other"}"""))).Rewritten;

        first.Span.Overlaps(second.Span).ShouldBeTrue();
        JsonNode.Parse(second.Span)!["choices"]![0]!["delta"]!["content"]!.GetValue<string>().ShouldBe("other");
    }

    /// <summary>Equal as JSON, and with the properties of the top-level object in the same order.</summary>
    private static void ShouldBeTheSameJson(ReadOnlyMemory<byte> actual, JsonObject expected)
    {
        var parsed = JsonNode.Parse(actual.Span)!.AsObject();
        JsonNode.DeepEquals(parsed, expected).ShouldBeTrue($"{Encoding.UTF8.GetString(actual.Span)}\nshould equal\n{expected.ToJsonString()}");
        parsed.Select(p => p.Key).ShouldBe(expected.Select(p => p.Key));
    }

    private static string Chunk(string delta, string finishReason = "null", string usage = "null") =>
        $$"""{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[{"index":0,"delta":{{delta}},"logprobs":null,"finish_reason":{{finishReason}}}],"usage":{{usage}}}""";

    private static string Completion(string message, string? usage) =>
        $$"""{"id":"chatcmpl-up","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{{message}},"logprobs":null,"finish_reason":"stop"}]{{(usage is null ? "" : $",\"usage\":{usage}")}},"service_tier":"default"}""";

    /// <summary>
    /// How the provider handled chunks and completions as JSON objects, before it read them as UTF-8; where it
    /// threw on a choice, tool call or function that was not an object, this skips it, as the rewriter does.
    /// </summary>
    private static class DomReference
    {
        /// <summary>A chunk: the one forwarded (null when it had no choices), the usage it carried, and what was counted.</summary>
        public static (JsonObject? Forwarded, TokenUsage? Usage, long GeneratedChars, bool Finished) Chunk(string data, ChatCall call)
        {
            var chunk = JsonNode.Parse(data)!.AsObject();
            TokenUsage? usage = chunk["usage"] is JsonObject reported ? ReadUsage(reported) : null;
            chunk.Remove("usage");
            if (chunk["choices"] is not JsonArray { Count: > 0 } choices)
                return (null, usage, 0, false);
            var chars = GeneratedChars(choices, "delta");
            var finished = choices.Any(c => c is JsonObject choice && choice["finish_reason"] is JsonValue);
            Rebrand(chunk, call);
            return (chunk, usage, chars, finished);
        }

        public static (JsonObject Completion, TokenUsage Usage) Completion(string body, ChatCall call)
        {
            var completion = JsonNode.Parse(body)!.AsObject();
            var choices = completion["choices"]!.AsArray();
            Rebrand(completion, call);
            if (completion["usage"] is JsonObject reported)
                return (completion, ReadUsage(reported));
            var usage = new TokenUsage(TokenEstimator.EstimatePrompt(call.Request), TokenEstimator.FromChars(GeneratedChars(choices, "message")));
            completion["usage"] = new JsonObject
            {
                ["prompt_tokens"] = usage.PromptTokens,
                ["completion_tokens"] = usage.CompletionTokens,
                ["total_tokens"] = usage.TotalTokens,
            };
            return (completion, usage);
        }

        private static void Rebrand(JsonObject body, ChatCall call)
        {
            body["id"] = call.ResponseId;
            body["created"] = call.Created;
            body["model"] = call.Model.Slug;
        }

        private static TokenUsage ReadUsage(JsonObject usage) => new(
            PromptTokens: IntOf(usage["prompt_tokens"]),
            CompletionTokens: IntOf(usage["completion_tokens"]),
            CachedTokens: IntOf(usage["prompt_tokens_details"]?["cached_tokens"]));

        private static int IntOf(JsonNode? node) =>
            node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<int>(out var number) ? number : 0;

        private static long GeneratedChars(JsonArray choices, string part)
        {
            long chars = 0;
            foreach (var choice in choices)
            {
                if (choice is not JsonObject || choice[part] is not JsonObject message)
                    continue;
                chars += LengthOf(message["content"]) + LengthOf(message["refusal"])
                    + LengthOf(message["reasoning_content"]) + LengthOf(message["reasoning"]);
                if (message["tool_calls"] is JsonArray toolCalls)
                {
                    foreach (var toolCall in toolCalls)
                        if (toolCall is JsonObject && toolCall["function"] is JsonObject function)
                            chars += LengthOf(function["name"]) + LengthOf(function["arguments"]);
                }
            }
            return chars;
        }

        private static int LengthOf(JsonNode? node) =>
            node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>().Length : 0;
    }
}
