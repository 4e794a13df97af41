using System.Text.Json.Nodes;
using Infery.Api.Chat;

namespace Infery.Api.Tests.Chat;

public class LegacyCompletionsTests
{
    private static ChatRequest Valid(string json)
    {
        var result = LegacyCompletions.ParseCompletion(JsonNode.Parse(json));
        result.Error.ShouldBeNull();
        return result.Request.ShouldNotBeNull();
    }

    [Fact]
    public void A_prompt_becomes_one_user_message_with_the_legacy_default_of_16_tokens()
    {
        var request = Valid("""{"model":"sim-chat","prompt":"Once upon a time"}""");

        var message = request.Messages.ShouldHaveSingleItem();
        message.Role.ShouldBe("user");
        message.Text.ShouldBe("Once upon a time");
        request.MaxTokens.ShouldBe(16);
        request.Body["messages"]!.ToJsonString().ShouldBe("""[{"role":"user","content":"Once upon a time"}]""");
        request.Body["max_tokens"]!.GetValue<int>().ShouldBe(16);
        request.Body.ContainsKey("prompt").ShouldBeFalse();
    }

    [Fact]
    public void Sampling_fields_carry_over_to_the_chat_request()
    {
        var request = Valid("""
            {"model":"sim-chat","prompt":["Say hi"],"max_tokens":40,"temperature":0.2,"top_p":0.9,"n":2,
             "stream":true,"stream_options":{"include_usage":true},"stop":["\n"],"seed":7,"user":"u1",
             "echo":false,"best_of":1,"suffix":null,"logprobs":null,"logit_bias":{"50256":-100}}
            """);

        request.Model.ShouldBe("sim-chat");
        request.Messages[0].Text.ShouldBe("Say hi");
        request.MaxTokens.ShouldBe(40);
        request.Temperature.ShouldBe(0.2);
        request.TopP.ShouldBe(0.9);
        request.N.ShouldBe(2);
        request.Stream.ShouldBeTrue();
        request.IncludeUsage.ShouldBeTrue();
        request.Stop.ShouldBe(["\n"]);
        request.Seed.ShouldBe(7);
        request.User.ShouldBe("u1");
        request.Body["logit_bias"]!.ToJsonString().ShouldBe("""{"50256":-100}""");
        request.Body.ContainsKey("echo").ShouldBeFalse();
    }

    public static TheoryData<string, string?> MalformedCompletions => new()
    {
        { """{"model":"m"}""", "prompt" },
        { """{"model":"m","prompt":null}""", "prompt" },
        { """{"model":"m","prompt":[]}""", "prompt" },
        { """{"model":"m","prompt":[1212,318]}""", "prompt" },
        { """{"model":"m","prompt":[[1212,318],[42]]}""", "prompt" },
        { """{"model":"m","prompt":["a","b"]}""", "prompt" },
        { """{"model":"m","prompt":42}""", "prompt" },
        { """{"model":"m","prompt":[{"text":"a"}]}""", "prompt[0]" },
        { """{"model":"m","prompt":"a","suffix":"end"}""", "suffix" },
        { """{"model":"m","prompt":"a","echo":true}""", "echo" },
        { """{"model":"m","prompt":"a","logprobs":2}""", "logprobs" },
        { """{"model":"m","prompt":"a","best_of":3}""", "best_of" },
        { """{"model":"m","prompt":"a","max_tokens":0}""", "max_tokens" },
        { """{"model":"m","prompt":"a","temperature":9}""", "temperature" },
        { """{"model":"m","prompt":"a","stream_options":{"include_usage":true}}""", "stream_options" },
        { """{"prompt":"a"}""", "model" },
        { """[]""", null },
    };

    [Theory]
    [MemberData(nameof(MalformedCompletions))]
    public void A_malformed_completion_request_is_a_400_naming_the_field(string json, string? param)
    {
        var error = LegacyCompletions.ParseCompletion(JsonNode.Parse(json)).Error.ShouldNotBeNull();

        error.Status.ShouldBe(400);
        error.Param.ShouldBe(param);
    }

    [Fact]
    public void A_chat_completion_becomes_a_text_completion()
    {
        var chat = JsonNode.Parse("""
            {"id":"chatcmpl-abc","object":"chat.completion","created":1741569952,"model":"sim-chat",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"logprobs":null,"finish_reason":"length"},
                        {"index":1,"message":{"role":"assistant","content":null,"tool_calls":[]},"finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":5,"completion_tokens":16,"total_tokens":21},"system_fingerprint":"fp_1"}
            """)!.AsObject();

        var text = LegacyCompletions.ToTextCompletion(chat);

        text.ToJsonString().ShouldBe("""
            {"id":"cmpl-abc","object":"text_completion","created":1741569952,"model":"sim-chat","choices":[{"text":"Hello!","index":0,"logprobs":null,"finish_reason":"length"},{"text":"","index":1,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":16,"total_tokens":21},"system_fingerprint":"fp_1"}
            """);
        chat["object"]!.GetValue<string>().ShouldBe("chat.completion");
    }

    [Fact]
    public void Chunks_become_text_completion_chunks_with_the_delta_text()
    {
        var first = JsonNode.Parse("""
            {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"sim-chat",
             "choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}
            """)!.AsObject();
        var middle = JsonNode.Parse("""
            {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"sim-chat",
             "choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}
            """)!.AsObject();
        var last = JsonNode.Parse("""
            {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"sim-chat",
             "choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
            """)!.AsObject();

        LegacyCompletions.ToTextCompletionChunk(first).ToJsonString().ShouldBe("""
            {"id":"cmpl-1","object":"text_completion","created":1,"model":"sim-chat","choices":[{"text":"","index":0,"logprobs":null,"finish_reason":null}],"usage":null}
            """);
        LegacyCompletions.ToTextCompletionChunk(middle)["choices"]![0]!["text"]!.GetValue<string>().ShouldBe("Hel");
        LegacyCompletions.ToTextCompletionChunk(last)["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
    }

    [Fact]
    public void The_usage_chunk_keeps_its_empty_choices_and_extra_fields()
    {
        var usage = JsonNode.Parse("""
            {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"sim-chat","choices":[],
             "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},"credits_used":"0.000012"}
            """)!.AsObject();

        LegacyCompletions.ToTextCompletionChunk(usage).ToJsonString().ShouldBe("""
            {"id":"cmpl-1","object":"text_completion","created":1,"model":"sim-chat","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},"credits_used":"0.000012"}
            """);
    }

    [Fact]
    public void Odd_shapes_do_not_throw()
    {
        var odd = JsonNode.Parse("""{"id":5,"choices":[null,7,{"message":"x"},{"delta":{"content":[1]}}]}""")!.AsObject();

        var text = LegacyCompletions.ToTextCompletion(odd);

        text["id"]!.GetValue<string>().ShouldBe("cmpl-");
        text["choices"]!.AsArray().Count.ShouldBe(2);
        LegacyCompletions.ToTextCompletionChunk(odd)["choices"]![1]!["text"]!.GetValue<string>().ShouldBe("");
    }
}
