using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;
using Infery.Api.Providers;
using Infery.Api.Providers.Gemini;
using Infery.Api.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Providers.Gemini;

public sealed class GeminiProviderTests : IAsyncLifetime
{
    private const string ApiKeyEnv = "INFERY_TEST_GEMINI_API_KEY";
    private const string ApiKey = "gemini-test-key";
    private const string ResponseId = "chatcmpl-gemini-test";
    private const long Created = 1_760_000_000;

    private static readonly ProviderTimeouts FastTimeouts =
        new(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300));

    private FakeUpstream fake = null!;

    static GeminiProviderTests() => Environment.SetEnvironmentVariable(ApiKeyEnv, ApiKey);

    public async Task InitializeAsync() => fake = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await fake.DisposeAsync();

    // ---- request mapping ----

    [Fact]
    public async Task Posts_to_generateContent_with_the_api_key_header()
    {
        string? sentKey = null;
        fake.Handler = ctx =>
        {
            sentKey = ctx.Request.Headers["x-goog-api-key"];
            return Json(TextResponse("hi"))(ctx);
        };

        await Provider().CompleteAsync(Call(Request(User("hello"))), default);

        fake.Received.Single().Path.ShouldBe("/v1beta/models/gemini-2.5-flash:generateContent");
        sentKey.ShouldBe(ApiKey);
    }

    [Fact]
    public async Task System_and_developer_messages_become_the_system_instruction_and_roles_are_mapped_and_merged()
    {
        fake.Handler = Json(TextResponse("ok"));
        var request = Request(
            new ChatMessage("system", [new TextPart("Be terse.")]),
            User("first"),
            new ChatMessage("developer", [new TextPart("Answer in French.")]),
            User("second"),
            new ChatMessage("assistant", [new TextPart("Bonjour")]),
            User("third"));

        await Provider().CompleteAsync(Call(request), default);

        var sent = SentBody();
        sent["systemInstruction"].ShouldBeEquivalentJson("""{"parts":[{"text":"Be terse."},{"text":"Answer in French."}]}""");
        sent["contents"].ShouldBeEquivalentJson("""
            [{"role":"user","parts":[{"text":"first"},{"text":"second"}]},
             {"role":"model","parts":[{"text":"Bonjour"}]},
             {"role":"user","parts":[{"text":"third"}]}]
            """);
        sent.ContainsKey("tools").ShouldBeFalse();
        sent.ContainsKey("generationConfig").ShouldBeFalse();
    }

    [Fact]
    public async Task Tool_calls_become_function_calls_and_tool_results_recover_the_function_name()
    {
        fake.Handler = Json(TextResponse("18C in Paris"));
        var request = Request(
            User("Weather in Paris and Rome?"),
            new ChatMessage("assistant", [], ToolCalls:
            [
                new ToolCall("call_a", "get_weather", """{"city":"Paris"}"""),
                new ToolCall("call_b", "get_time", """{"city":"Rome"}"""),
            ]),
            new ChatMessage("tool", [new TextPart("noon")], ToolCallId: "call_b"),
            new ChatMessage("tool", [new TextPart("18C")], ToolCallId: "call_a"),
            User("Thanks"));

        await Provider().CompleteAsync(Call(request), default);

        SentBody()["contents"].ShouldBeEquivalentJson("""
            [{"role":"user","parts":[{"text":"Weather in Paris and Rome?"}]},
             {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
                                      {"functionCall":{"name":"get_time","args":{"city":"Rome"}}}]},
             {"role":"user","parts":[{"functionResponse":{"name":"get_time","response":{"content":"noon"}}},
                                     {"functionResponse":{"name":"get_weather","response":{"content":"18C"}}},
                                     {"text":"Thanks"}]}]
            """);
    }

    [Fact]
    public async Task A_tool_result_for_an_unknown_call_id_is_a_bad_request_and_never_sent()
    {
        var request = Request(
            User("hi"),
            new ChatMessage("assistant", [], ToolCalls: [new ToolCall("call_a", "get_weather", "{}")]),
            new ChatMessage("tool", [new TextPart("18C")], ToolCallId: "call_unknown"));

        var error = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(request), default));

        error.Failure.ShouldBe(ProviderFailure.BadRequest);
        error.Message.ShouldContain("call_unknown");
        fake.Calls.ShouldBe(0);
    }

    [Fact]
    public async Task Tools_become_function_declarations_without_the_schema_keys_gemini_rejects()
    {
        fake.Handler = Json(TextResponse("ok"));
        var parameters = JsonNode.Parse("""
            {"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,
             "properties":{
               "city":{"type":"string"},
               "strict":{"type":"boolean"},
               "where":{"type":"object","additionalProperties":false,"properties":{"lat":{"type":"number"}}},
               "tags":{"type":"array","items":{"type":"object","additionalProperties":false}}},
             "required":["city"]}
            """)!.AsObject();
        var request = WithTools(Request(User("hi")), [new ToolDefinition("get_weather", "Current weather", parameters, Strict: true)]);

        await Provider().CompleteAsync(Call(request), default);

        SentBody()["tools"].ShouldBeEquivalentJson("""
            [{"functionDeclarations":[{"name":"get_weather","description":"Current weather","parameters":
              {"type":"object",
               "properties":{
                 "city":{"type":"string"},
                 "strict":{"type":"boolean"},
                 "where":{"type":"object","properties":{"lat":{"type":"number"}}},
                 "tags":{"type":"array","items":{"type":"object"}}},
               "required":["city"]}}]}]
            """);
        parameters.ContainsKey("additionalProperties").ShouldBeTrue("the client's schema is left as it was");
    }

    [Theory]
    [InlineData("none", null, """{"mode":"NONE"}""")]
    [InlineData("auto", null, """{"mode":"AUTO"}""")]
    [InlineData("required", null, """{"mode":"ANY"}""")]
    [InlineData("function", "get_weather", """{"mode":"ANY","allowedFunctionNames":["get_weather"]}""")]
    public async Task Tool_choice_becomes_a_function_calling_mode(string mode, string? function, string expected)
    {
        fake.Handler = Json(TextResponse("ok"));
        var request = WithTools(Request(User("hi")), [new ToolDefinition("get_weather", null, null, false)]);
        request = Copy(request, toolChoice: new ToolChoice(mode, function));

        await Provider().CompleteAsync(Call(request), default);

        SentBody()["toolConfig"]!["functionCallingConfig"].ShouldBeEquivalentJson(expected);
    }

    [Fact]
    public async Task Sampling_options_and_a_json_schema_become_the_generation_config()
    {
        fake.Handler = Json(TextResponse("{}"));
        var schema = JsonNode.Parse("""
            {"type":"object","additionalProperties":false,"properties":{"answer":{"type":"string"}},"required":["answer"]}
            """)!.AsObject();
        var request = new ChatRequest
        {
            Body = new JsonObject(),
            Model = "gemini-flash",
            Messages = [User("hi")],
            Temperature = 0.7,
            TopP = 0.9,
            TopK = 40,
            MaxTokens = 1024,
            N = 2,
            Stop = ["END", "STOP"],
            Seed = 42,
            PresencePenalty = 0.5,
            FrequencyPenalty = -0.5,
            ResponseFormat = new ResponseFormat("json_schema", "answer", schema, Strict: true),
        };

        await Provider().CompleteAsync(Call(request), default);

        SentBody()["generationConfig"].ShouldBeEquivalentJson("""
            {"temperature":0.7,"topP":0.9,"topK":40,"maxOutputTokens":1024,"candidateCount":2,
             "stopSequences":["END","STOP"],"seed":42,"presencePenalty":0.5,"frequencyPenalty":-0.5,
             "responseMimeType":"application/json",
             "responseSchema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}}
            """);
    }

    [Fact]
    public async Task Json_object_mode_asks_for_json_without_a_schema()
    {
        fake.Handler = Json(TextResponse("{}"));
        var request = Copy(Request(User("hi")), responseFormat: new ResponseFormat("json_object"));

        await Provider().CompleteAsync(Call(request), default);

        SentBody()["generationConfig"].ShouldBeEquivalentJson("""{"responseMimeType":"application/json"}""");
    }

    [Fact]
    public async Task Images_audio_and_files_become_inline_or_file_data()
    {
        fake.Handler = Json(TextResponse("ok"));
        var request = Request(new ChatMessage("user",
        [
            new TextPart("What is this?"),
            new ImagePart("data:image/png;base64,iVBORw0KGgo=", "auto"),
            new ImagePart("https://example.com/photos/cat.webp?size=large", null),
            new AudioPart("UklGRg==", "mp3"),
            new FilePart("a.pdf", "data:application/pdf;base64,JVBERi0=", null),
        ]));

        await Provider().CompleteAsync(Call(request), default);

        SentBody()["contents"]![0]!["parts"].ShouldBeEquivalentJson("""
            [{"text":"What is this?"},
             {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
             {"fileData":{"mimeType":"image/webp","fileUri":"https://example.com/photos/cat.webp?size=large"}},
             {"inlineData":{"mimeType":"audio/mp3","data":"UklGRg=="}},
             {"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}}]
            """);
    }

    [Fact]
    public async Task A_file_referenced_by_id_is_a_bad_request()
    {
        var request = Request(new ChatMessage("user", [new FilePart(null, null, "file-abc")]));

        var error = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(request), default));

        error.Failure.ShouldBe(ProviderFailure.BadRequest);
        fake.Calls.ShouldBe(0);
    }

    // ---- whole responses ----

    [Fact]
    public async Task A_text_response_becomes_a_chat_completion_with_thinking_billed_as_output()
    {
        fake.Handler = Json("""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello, "},{"text":"world"}]},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5,"thoughtsTokenCount":30,"totalTokenCount":47},
             "modelVersion":"gemini-2.5-flash","responseId":"upstream-id"}
            """);

        var result = await Provider().CompleteAsync(Call(Request(User("hi"))), default);

        result.Completion.ToObject().ShouldBeEquivalentJson($$$"""
            {"id":"{{{ResponseId}}}","object":"chat.completion","created":{{{Created}}},"model":"gemini-flash",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world"},"logprobs":null,"finish_reason":"stop"}],
             "usage":{"prompt_tokens":12,"completion_tokens":35,"total_tokens":47,
                      "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":30}} }
            """);
        result.Usage.ShouldBe(new TokenUsage(12, 35));
    }

    [Theory]
    [InlineData("")]
    [InlineData(""","usageMetadata":{}""")]
    public async Task A_response_without_usage_metadata_is_billed_by_estimate_never_as_free(string usageMetadata)
    {
        const string answer = "An answer of some forty characters here.";
        fake.Handler = Json($$"""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"{{answer}}"}]},"finishReason":"STOP"}]{{usageMetadata}}}
            """);

        var result = await Provider().CompleteAsync(Call(Request(User("Tell me something of about this length."))), default);

        result.Usage.PromptTokens.ShouldBeGreaterThan(0);
        result.Usage.CompletionTokens.ShouldBe(TokenEstimator.FromChars(answer.Length));
        var usage = result.Completion.ToObject()["usage"]!;
        usage["prompt_tokens"]!.GetValue<int>().ShouldBe(result.Usage.PromptTokens);
        usage["completion_tokens"]!.GetValue<int>().ShouldBe(result.Usage.CompletionTokens);
    }

    [Fact]
    public async Task Thought_parts_are_left_out_of_the_content()
    {
        fake.Handler = Json("""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"Let me think","thought":true},{"text":"42"}]},"finishReason":"STOP"}]}
            """);

        var result = await Provider().CompleteAsync(Call(Request(User("hi"))), default);

        result.Completion.ToObject()["choices"]![0]!["message"]!["content"]!.GetValue<string>().ShouldBe("42");
    }

    [Fact]
    public async Task A_function_call_becomes_a_tool_call_with_a_synthesised_id()
    {
        fake.Handler = Json("""
            {"candidates":[{"content":{"role":"model","parts":[
                {"functionCall":{"name":"get_weather","args":{"city":"Paris","days":2}}},
                {"functionCall":{"name":"get_time","args":{}}}]},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":8,"totalTokenCount":28}}
            """);

        var result = await Provider().CompleteAsync(Call(Request(User("hi"))), default);

        var choice = result.Completion.ToObject()["choices"]![0]!;
        choice["finish_reason"]!.GetValue<string>().ShouldBe("tool_calls");
        choice["message"]!["content"].ShouldBeNull();
        var toolCalls = choice["message"]!["tool_calls"]!.AsArray();
        toolCalls.Count.ShouldBe(2);
        var first = toolCalls[0]!;
        first["id"]!.GetValue<string>().ShouldMatch("^call_[0-9a-f]{24}$");
        first["id"]!.GetValue<string>().ShouldNotBe(toolCalls[1]!["id"]!.GetValue<string>());
        first["type"]!.GetValue<string>().ShouldBe("function");
        first["function"]!["name"]!.GetValue<string>().ShouldBe("get_weather");
        JsonNode.Parse(first["function"]!["arguments"]!.GetValue<string>()).ShouldBeEquivalentJson("""{"city":"Paris","days":2}""");
        toolCalls[1]!["function"]!["arguments"]!.GetValue<string>().ShouldBe("{}");
    }

    [Fact]
    public async Task A_blocked_prompt_becomes_one_content_filtered_choice()
    {
        fake.Handler = Json("""
            {"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}}
            """);

        var result = await Provider().CompleteAsync(Call(Request(User("something bad"))), default);

        result.Completion.ToObject()["choices"].ShouldBeEquivalentJson("""
            [{"index":0,"message":{"role":"assistant","content":null},"logprobs":null,"finish_reason":"content_filter"}]
            """);
        result.Usage.ShouldBe(new TokenUsage(9, 0));
    }

    [Theory]
    [InlineData("STOP", "stop")]
    [InlineData("MAX_TOKENS", "length")]
    [InlineData("SAFETY", "content_filter")]
    [InlineData("RECITATION", "content_filter")]
    [InlineData("PROHIBITED_CONTENT", "content_filter")]
    [InlineData("OTHER", "content_filter")]
    [InlineData("MALFORMED_FUNCTION_CALL", "stop")]
    public async Task Finish_reasons_are_translated(string geminiReason, string openAiReason)
    {
        fake.Handler = Json($$$"""{"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]},"finishReason":"{{{geminiReason}}}"}]}""");

        var result = await Provider().CompleteAsync(Call(Request(User("hi"))), default);

        result.Completion.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe(openAiReason);
    }

    [Fact]
    public async Task Several_candidates_become_several_choices()
    {
        fake.Handler = Json("""
            {"candidates":[
              {"content":{"role":"model","parts":[{"text":"one"}]},"finishReason":"STOP"},
              {"content":{"role":"model","parts":[{"text":"two"}]},"finishReason":"MAX_TOKENS","index":1}]}
            """);

        var result = await Provider().CompleteAsync(Call(Copy(Request(User("hi")), n: 2)), default);

        var choices = result.Completion.ToObject()["choices"]!.AsArray();
        choices.Select(c => c!["index"]!.GetValue<int>()).ShouldBe([0, 1]);
        choices.Select(c => c!["message"]!["content"]!.GetValue<string>()).ShouldBe(["one", "two"]);
        choices.Select(c => c!["finish_reason"]!.GetValue<string>()).ShouldBe(["stop", "length"]);
    }

    [Fact]
    public async Task Cached_tokens_are_a_subset_of_the_prompt_tokens()
    {
        fake.Handler = Json("""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":800,"candidatesTokenCount":10,"totalTokenCount":1010}}
            """);

        var result = await Provider().CompleteAsync(Call(Request(User("hi"))), default);

        result.Usage.ShouldBe(new TokenUsage(1000, 10, CachedTokens: 800));
        result.Usage.UncachedPromptTokens.ShouldBe(200);
        result.Completion.ToObject()["usage"]!["prompt_tokens_details"]!["cached_tokens"]!.GetValue<int>().ShouldBe(800);
        result.Completion.ToObject()["usage"]!["total_tokens"]!.GetValue<int>().ShouldBe(1010);
    }

    // ---- streams ----

    [Fact]
    public async Task A_text_stream_becomes_chunks_and_the_cumulative_usage_is_taken_once()
    {
        fake.Handler = Sse(
            """{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":1,"totalTokenCount":8}}""",
            """{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]}}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2,"totalTokenCount":9}}""",
            """{"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,"thoughtsTokenCount":4,"totalTokenCount":14}}""");

        var items = await Collect(Provider().StreamAsync(Call(Request(User("hi"))), default));

        fake.Received.Single().Path.ShouldBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
        var chunks = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()).ToList();
        chunks.Select(c => c["choices"]![0]!.ToJsonString()).ShouldBe(
        [
            """{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}""",
            """{"index":0,"delta":{"content":"Hel"},"finish_reason":null}""",
            """{"index":0,"delta":{"content":"lo"},"finish_reason":null}""",
            """{"index":0,"delta":{"content":"!"},"finish_reason":null}""",
            """{"index":0,"delta":{},"finish_reason":"stop"}""",
        ]);
        chunks.ShouldAllBe(c => c["id"]!.GetValue<string>() == ResponseId
            && c["object"]!.GetValue<string>() == "chat.completion.chunk"
            && c["created"]!.GetValue<long>() == Created
            && c["model"]!.GetValue<string>() == "gemini-flash");

        items.Count(i => i.Chunk is null).ShouldBe(1, "the final usage comes once, as the last item");
        items[^1].Usage.ShouldBe(new TokenUsage(7, 7));
    }

    [Fact]
    public async Task A_stream_without_usage_metadata_ends_without_a_count_so_the_gateway_estimates_it()
    {
        fake.Handler = Sse(
            """{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}]}""",
            """{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP"}]}""");

        var items = await Collect(Provider().StreamAsync(Call(Request(User("hi"))), default));

        items.Count(i => i.Chunk is not null).ShouldBe(4);
        items.ShouldAllBe(i => i.Usage == null, "a count of zero would be charged as zero");
    }

    [Fact]
    public async Task A_streamed_function_call_arrives_whole_in_one_chunk()
    {
        fake.Handler = Sse(
            """{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":6,"totalTokenCount":36}}""");

        var items = await Collect(Provider().StreamAsync(Call(Request(User("weather?"))), default));

        var chunks = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()["choices"]![0]!).ToList();
        chunks.Count.ShouldBe(3);
        chunks[0]["delta"]!["role"]!.GetValue<string>().ShouldBe("assistant");
        var toolCall = chunks[1]["delta"]!["tool_calls"]!.AsArray().Single()!;
        toolCall["index"]!.GetValue<int>().ShouldBe(0);
        toolCall["id"]!.GetValue<string>().ShouldMatch("^call_[0-9a-f]{24}$");
        toolCall["type"]!.GetValue<string>().ShouldBe("function");
        toolCall["function"]!["name"]!.GetValue<string>().ShouldBe("get_weather");
        JsonNode.Parse(toolCall["function"]!["arguments"]!.GetValue<string>()).ShouldBeEquivalentJson("""{"city":"Paris"}""");
        chunks[2]["finish_reason"]!.GetValue<string>().ShouldBe("tool_calls");
        items[^1].Usage.ShouldBe(new TokenUsage(30, 6));
    }

    [Fact]
    public async Task A_blocked_prompt_in_a_stream_ends_with_content_filter()
    {
        fake.Handler = Sse("""{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}}""");

        var items = await Collect(Provider().StreamAsync(Call(Request(User("bad"))), default));

        items.Where(i => i.Chunk is not null).Last().Chunk!.Value.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("content_filter");
        items[^1].Usage.ShouldBe(new TokenUsage(4, 0));
    }

    [Fact]
    public async Task An_error_event_mid_stream_is_a_provider_failure_after_the_chunks_before_it()
    {
        fake.Handler = Sse(
            """{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":1}}""",
            """{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}""");

        var chunks = new List<JsonObject>();
        var error = await Should.ThrowAsync<ProviderException>(async () =>
        {
            await foreach (var item in Provider().StreamAsync(Call(Request(User("hi"))), default))
                chunks.Add(item.Chunk!.Value.ToObject());
        });

        chunks.Count.ShouldBe(2);
        error.Failure.ShouldBe(ProviderFailure.Overloaded);
        error.UpstreamStatus.ShouldBe(503);
        error.Message.ShouldContain("UNAVAILABLE");
        error.Message.ShouldContain("overloaded");
    }

    [Fact]
    public async Task Garbage_stream_data_is_malformed()
    {
        fake.Handler = Sse("""{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}""", "this is not json");

        var error = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request(User("hi"))), default)));

        error.Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Fact]
    public async Task A_stream_that_ends_without_an_event_is_malformed()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, []);

        var error = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request(User("hi"))), default)));

        error.Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Fact]
    public async Task A_stream_that_stalls_mid_way_times_out()
    {
        fake.Handler = async ctx =>
        {
            await FakeUpstream.WriteSseAsync(ctx, [SseEvent("""{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}""")]);
            await Task.Delay(TimeSpan.FromSeconds(5), ctx.RequestAborted);
        };

        var error = await Should.ThrowAsync<ProviderException>(
            () => Collect(Provider(FastTimeouts).StreamAsync(Call(Request(User("hi")), FastTimeouts), default)));

        error.Failure.ShouldBe(ProviderFailure.Timeout);
    }

    // ---- errors ----

    [Theory]
    [InlineData(429, "RESOURCE_EXHAUSTED", ProviderFailure.RateLimited)]
    [InlineData(500, "INTERNAL", ProviderFailure.ServerError)]
    [InlineData(503, "UNAVAILABLE", ProviderFailure.Overloaded)]
    [InlineData(504, "DEADLINE_EXCEEDED", ProviderFailure.Timeout)]
    [InlineData(400, "INVALID_ARGUMENT", ProviderFailure.BadRequest)]
    [InlineData(403, "PERMISSION_DENIED", ProviderFailure.Unauthorized)]
    public async Task Error_statuses_map_to_failures_with_gemini_s_message(int status, string rpcStatus, ProviderFailure expected)
    {
        fake.Handler = async ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.Headers.RetryAfter = "7";
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync($$$"""{"error":{"code":{{{status}}},"message":"Something about {{{rpcStatus}}}.","status":"{{{rpcStatus}}}"}}""");
        };

        var error = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request(User("hi"))), default));

        error.Failure.ShouldBe(expected);
        error.UpstreamStatus.ShouldBe(status);
        error.RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
        error.Message.ShouldBe($"{rpcStatus}: Something about {rpcStatus}.");
    }

    [Fact]
    public async Task An_error_status_on_a_stream_fails_before_any_chunk()
    {
        fake.Handler = async ctx =>
        {
            ctx.Response.StatusCode = 429;
            await ctx.Response.WriteAsync("""{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED"}}""");
        };

        var error = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request(User("hi"))), default)));

        error.Failure.ShouldBe(ProviderFailure.RateLimited);
    }

    [Fact]
    public async Task An_invalid_api_key_is_our_credential_failing_not_a_bad_request()
    {
        fake.Handler = async ctx =>
        {
            ctx.Response.StatusCode = 400;
            await ctx.Response.WriteAsync("""
                {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
                  "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}
                """);
        };

        var error = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request(User("hi"))), default));

        error.Failure.ShouldBe(ProviderFailure.Unauthorized);
        error.UpstreamStatus.ShouldBe(400);
    }

    [Theory]
    [InlineData("<html>not json</html>")]
    [InlineData("[1,2,3]")]
    [InlineData("""{"candidates":"nope"}""")]
    [InlineData("""{"candidates":[{"content":{"parts":[{"text":42}]}}]}""")]
    [InlineData("{}")]
    public async Task A_malformed_success_body_is_malformed(string body)
    {
        fake.Handler = Json(body);

        var error = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request(User("hi"))), default));

        error.Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Fact]
    public async Task A_reset_connection_is_unreachable()
    {
        fake.Handler = ctx => { FakeUpstream.Reset(ctx); return Task.CompletedTask; };

        var complete = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request(User("hi"))), default));
        var stream = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request(User("hi"))), default)));

        complete.Failure.ShouldBe(ProviderFailure.Unreachable);
        stream.Failure.ShouldBe(ProviderFailure.Unreachable);
    }

    [Fact]
    public async Task A_slow_first_byte_times_out()
    {
        fake.Handler = async ctx =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), ctx.RequestAborted);
            await ctx.Response.WriteAsync(TextResponse("too late"));
        };

        var error = await Should.ThrowAsync<ProviderException>(
            () => Provider(FastTimeouts).CompleteAsync(Call(Request(User("hi")), FastTimeouts), default));

        error.Failure.ShouldBe(ProviderFailure.Timeout);
        error.CanFallback.ShouldBeTrue();
    }

    // ---- helpers ----

    private static GeminiProvider Provider(ProviderTimeouts? timeouts = null) =>
        new(UpstreamHttp.CreateClient(timeouts ?? ProviderTimeouts.Default));

    private ChatCall Call(ChatRequest request, ProviderTimeouts? timeouts = null) =>
        new(request, Model(timeouts ?? ProviderTimeouts.Default), ResponseId, Created);

    private CatalogModel Model(ProviderTimeouts timeouts) => new(
        "gemini-flash",
        new ProviderConfig("gemini", ProviderKind.Gemini, fake.BaseUrl, ApiKeyEnv, timeouts),
        "gemini-2.5-flash",
        "google",
        ContextWindow: 1_048_576,
        MaxOutputTokens: 65_536,
        new ModelCapabilities(Vision: true, Pdf: true, Tools: true, JsonSchema: true, AudioInput: true, ["text", "image"], ["text"]),
        new ModelPrices(300_000, 75_000, 0, 2_500_000));

    private static ChatMessage User(string text) => new("user", [new TextPart(text)]);

    private static ChatRequest Request(params ChatMessage[] messages) =>
        new() { Body = new JsonObject(), Model = "gemini-flash", Messages = messages };

    private static ChatRequest WithTools(ChatRequest request, IReadOnlyList<ToolDefinition> tools) => Copy(request, tools: tools);

    private static ChatRequest Copy(
        ChatRequest request, IReadOnlyList<ToolDefinition>? tools = null, ToolChoice? toolChoice = null,
        ResponseFormat? responseFormat = null, int? n = null) => new()
    {
        Body = request.Body,
        Model = request.Model,
        Messages = request.Messages,
        Tools = tools ?? request.Tools,
        ToolChoice = toolChoice ?? request.ToolChoice,
        ResponseFormat = responseFormat ?? request.ResponseFormat,
        N = n ?? request.N,
    };

    private JsonObject SentBody() => JsonNode.Parse(fake.Received.Single().Body)!.AsObject();

    private static string TextResponse(string text) =>
        new JsonObject
        {
            ["candidates"] = new JsonArray(new JsonObject
            {
                ["content"] = new JsonObject { ["role"] = "model", ["parts"] = new JsonArray(new JsonObject { ["text"] = text }) },
                ["finishReason"] = "STOP",
            }),
            ["usageMetadata"] = new JsonObject { ["promptTokenCount"] = 3, ["candidatesTokenCount"] = 1, ["totalTokenCount"] = 4 },
        }.ToJsonString();

    private static RequestDelegate Json(string body) => async ctx =>
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body);
    };

    /// <summary>Gemini's SSE framing: data lines ended by CRLF, no event names and no [DONE].</summary>
    private static string SseEvent(string json) => $"data: {json}\r\n\r\n";

    private static RequestDelegate Sse(params string[] events) =>
        ctx => FakeUpstream.WriteSseAsync(ctx, events.Select(SseEvent));

    private static async Task<List<ChatStreamItem>> Collect(IAsyncEnumerable<ChatStreamItem> stream)
    {
        var items = new List<ChatStreamItem>();
        await foreach (var item in stream)
            items.Add(item);
        return items;
    }
}

internal static class JsonAssertions
{
    public static void ShouldBeEquivalentJson(this JsonNode? actual, string expectedJson) =>
        JsonNode.DeepEquals(actual, JsonNode.Parse(expectedJson)).ShouldBeTrue(
            $"expected {JsonNode.Parse(expectedJson)?.ToJsonString()} but was {actual?.ToJsonString()}");
}
