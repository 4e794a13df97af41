using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;
using Infery.Api.Providers;
using Infery.Api.Providers.Anthropic;
using Infery.Api.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Providers.Anthropic;

public sealed class AnthropicProviderTests : IAsyncLifetime
{
    private const string KeyEnv = "INFERY_TEST_ANTHROPIC_KEY";
    private const string ResponseId = "chatcmpl-test1";
    private const long Created = 1_760_000_000;

    private static readonly ProviderTimeouts Quick = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));

    private FakeUpstream fake = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(KeyEnv, "sk-ant-test");
        fake = await FakeUpstream.StartAsync();
        fake.Handler = ctx => Json(ctx, TextMessage("ok"));
    }

    public async Task DisposeAsync() => await fake.DisposeAsync();

    // ---- request mapping ----

    [Fact]
    public async Task Posts_to_v1_messages_with_key_version_and_upstream_model()
    {
        // Kestrel reuses a request's header collection afterwards, so read the headers while it is live.
        string? apiKey = null, version = null;
        fake.Handler = ctx =>
        {
            apiKey = ctx.Request.Headers["x-api-key"];
            version = ctx.Request.Headers["anthropic-version"];
            return Json(ctx, TextMessage("ok"));
        };

        await Complete(Request([User("hi")]));

        fake.Received.Single().Path.ShouldBe("/v1/messages");
        apiKey.ShouldBe("sk-ant-test");
        version.ShouldBe("2023-06-01");
        var sent = SentBody();
        sent["model"]!.GetValue<string>().ShouldBe("claude-sonnet-4-5");
        sent["max_tokens"]!.GetValue<int>().ShouldBe(8192);
        sent.ContainsKey("stream").ShouldBeFalse();
    }

    [Fact]
    public async Task System_and_developer_messages_become_system_blocks_and_same_role_turns_merge()
    {
        await Complete(Request(
        [
            new ChatMessage("system", [new TextPart("Be terse.")]),
            new ChatMessage("developer", [new TextPart("Answer in French.")]),
            User("one"),
            User("two"),
            Assistant("un"),
            Assistant("deux "),
        ]));

        var sent = SentBody();
        ShouldEqualJson(sent["system"], """[{"type":"text","text":"Be terse."},{"type":"text","text":"Answer in French."}]""");
        ShouldEqualJson(sent["messages"], """
            [{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
             {"role":"assistant","content":[{"type":"text","text":"un"},{"type":"text","text":"deux"}]}]
            """);
    }

    [Fact]
    public async Task A_whitespace_only_final_assistant_turn_is_dropped()
    {
        await Complete(Request([User("hi"), Assistant("  ")]));

        ShouldEqualJson(SentBody()["messages"], """[{"role":"user","content":[{"type":"text","text":"hi"}]}]""");
    }

    [Fact]
    public async Task Parameters_pass_through_and_unsupported_ones_are_dropped()
    {
        await Complete(new ChatRequest
        {
            Body = [],
            Model = "claude-test",
            Messages = [User("hi")],
            MaxTokens = 300,
            Temperature = 0.4,
            TopP = 0.9,
            TopK = 40,
            Stop = ["END", "  "],
            User = "user-42",
            Seed = 7,
            PresencePenalty = 0.5,
            FrequencyPenalty = 0.5,
        });

        ShouldEqualJson(SentBody(), """
            {"model":"claude-sonnet-4-5","max_tokens":300,
             "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
             "stop_sequences":["END"],"temperature":0.4,"top_p":0.9,"top_k":40,
             "metadata":{"user_id":"user-42"}}
            """);
    }

    [Theory]
    [InlineData(1.5, 1.0)]
    [InlineData(2.0, 1.0)]
    [InlineData(1.0, 1.0)]
    [InlineData(0.0, 0.0)]
    public async Task A_temperature_above_anthropics_range_is_sent_as_its_highest(double asked, double sent)
    {
        await Complete(new ChatRequest { Body = [], Model = "claude-test", Messages = [User("hi")], MaxTokens = 10, Temperature = asked });

        SentBody()["temperature"]!.GetValue<double>().ShouldBe(sent);
    }

    [Fact]
    public async Task Tool_calls_and_tool_results_become_tool_use_and_tool_result_blocks()
    {
        await Complete(new ChatRequest
        {
            Body = [],
            Model = "claude-test",
            Messages =
            [
                User("Weather in Paris and Rome?"),
                new ChatMessage("assistant", [new TextPart("Checking.")], ToolCalls:
                [
                    new ToolCall("toolu_01", "get_weather", """{"city":"Paris"}"""),
                    new ToolCall("toolu_02", "get_time", ""),
                    new ToolCall("toolu_03", "get_weather", "{not json"),
                ]),
                new ChatMessage("tool", [new TextPart("18C")], ToolCallId: "toolu_01"),
                new ChatMessage("tool", [new TextPart("12:00")], ToolCallId: "toolu_02"),
                new ChatMessage("tool", [new TextPart("20C")], ToolCallId: "toolu_03"),
                User("Thanks"),
            ],
            Tools =
            [
                new ToolDefinition("get_weather", "Current weather", JsonNode.Parse("""{"type":"object","properties":{"city":{"type":"string"}}}""")!.AsObject(), false),
                new ToolDefinition("get_time", null, null, false),
            ],
        });

        var sent = SentBody();
        ShouldEqualJson(sent["messages"], """
            [{"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"}]},
             {"role":"assistant","content":[
               {"type":"text","text":"Checking."},
               {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}},
               {"type":"tool_use","id":"toolu_02","name":"get_time","input":{}},
               {"type":"tool_use","id":"toolu_03","name":"get_weather","input":{}}]},
             {"role":"user","content":[
               {"type":"tool_result","tool_use_id":"toolu_01","content":"18C"},
               {"type":"tool_result","tool_use_id":"toolu_02","content":"12:00"},
               {"type":"tool_result","tool_use_id":"toolu_03","content":"20C"},
               {"type":"text","text":"Thanks"}]}]
            """);
        ShouldEqualJson(sent["tools"], """
            [{"name":"get_weather","description":"Current weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},
             {"name":"get_time","input_schema":{"type":"object"}}]
            """);
        sent.ContainsKey("tool_choice").ShouldBeFalse();
    }

    [Theory]
    [InlineData("none", null, """{"type":"none"}""")]
    [InlineData("auto", null, """{"type":"auto"}""")]
    [InlineData("required", null, """{"type":"any"}""")]
    [InlineData("function", "get_weather", """{"type":"tool","name":"get_weather"}""")]
    public async Task Tool_choice_is_mapped(string mode, string? name, string expected)
    {
        await Complete(WithTools(new ToolChoice(mode, name), parallel: null));

        ShouldEqualJson(SentBody()["tool_choice"], expected);
    }

    [Fact]
    public async Task Parallel_tool_calls_false_disables_parallel_tool_use()
    {
        await Complete(WithTools(toolChoice: null, parallel: false));

        ShouldEqualJson(SentBody()["tool_choice"], """{"type":"auto","disable_parallel_tool_use":true}""");
    }

    [Fact]
    public async Task Images_and_files_become_image_and_document_blocks()
    {
        await Complete(Request(
        [
            new ChatMessage("user",
            [
                new TextPart("What is in these?"),
                new ImagePart("data:image/png;base64,iVBORw0KGgo=", "auto"),
                new ImagePart("https://example.com/cat.jpg", null),
                new ImagePart("data:application/pdf;base64,JVBERi0x", null),
                new FilePart("report.pdf", "data:application/pdf;base64,JVBERi0y", null),
                new FilePart("notes.txt", "data:text/plain;base64,aGVsbG8gd29ybGQ=", null),
            ]),
        ]));

        ShouldEqualJson(SentBody()["messages"]![0]!["content"], """
            [{"type":"text","text":"What is in these?"},
             {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
             {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},
             {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}},
             {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0y"},"title":"report.pdf"},
             {"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello world"},"title":"notes.txt"}]
            """);
    }

    [Fact]
    public async Task Json_schema_response_format_forces_a_tool_with_the_schema()
    {
        var schema = JsonNode.Parse("""{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}""")!.AsObject();
        await Complete(new ChatRequest
        {
            Body = [],
            Model = "claude-test",
            Messages = [User("Answer as JSON")],
            ResponseFormat = new ResponseFormat("json_schema", "answer", schema, Strict: true),
        });

        var sent = SentBody();
        var tool = sent["tools"]!.AsArray().Single()!;
        tool["name"]!.GetValue<string>().ShouldBe("json_response");
        ShouldEqualJson(tool["input_schema"], schema.ToJsonString());
        ShouldEqualJson(sent["tool_choice"], """{"type":"tool","name":"json_response"}""");
    }

    [Fact]
    public async Task Json_object_response_format_forces_a_tool_taking_any_object()
    {
        await Complete(new ChatRequest
        {
            Body = [],
            Model = "claude-test",
            Messages = [User("Answer as JSON")],
            ResponseFormat = new ResponseFormat("json_object"),
        });

        ShouldEqualJson(SentBody()["tools"]![0]!["input_schema"], """{"type":"object"}""");
    }

    [Fact]
    public async Task Audio_input_and_n_above_one_are_rejected_without_calling_upstream()
    {
        var audio = await Should.ThrowAsync<ProviderException>(() => Complete(Request(
            [new ChatMessage("user", [new AudioPart("UklGRg==", "wav")])])));
        var several = await Should.ThrowAsync<ProviderException>(() => Complete(new ChatRequest
        {
            Body = [],
            Model = "claude-test",
            Messages = [User("hi")],
            N = 2,
        }));

        audio.Failure.ShouldBe(ProviderFailure.BadRequest);
        several.Failure.ShouldBe(ProviderFailure.BadRequest);
        fake.Calls.ShouldBe(0);
    }

    // ---- non-streaming responses ----

    [Fact]
    public async Task Text_response_becomes_a_chat_completion()
    {
        fake.Handler = ctx => Json(ctx, """
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
             "content":[{"type":"text","text":"Hello"},{"type":"text","text":", world"}],
             "stop_reason":"end_turn","stop_sequence":null,
             "usage":{"input_tokens":12,"output_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}
            """);

        var result = await Complete(Request([User("hi")]));

        ShouldEqualJson(result.Completion.ToObject(), $$$"""
            {"id":"{{{ResponseId}}}","object":"chat.completion","created":{{{Created}}},"model":"claude-test",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world"},"logprobs":null,"finish_reason":"stop"}],
             "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":0} } }
            """);
        result.Usage.ShouldBe(new TokenUsage(12, 5));
    }

    [Fact]
    public async Task Tool_use_response_becomes_tool_calls_with_null_content()
    {
        fake.Handler = ctx => Json(ctx, """
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
             "content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Zürich"}}],
             "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":20}}
            """);

        var result = await Complete(Request([User("Weather?")]));

        var choice = result.Completion.ToObject()["choices"]![0]!;
        choice["finish_reason"]!.GetValue<string>().ShouldBe("tool_calls");
        ShouldEqualJson(choice["message"], """
            {"role":"assistant","content":null,"tool_calls":[{"id":"toolu_01","type":"function",
              "function":{"name":"get_weather","arguments":"{\"city\":\"Zürich\"}"}}]}
            """);
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("refusal", "content_filter")]
    [InlineData("pause_turn", "stop")]
    public async Task Stop_reasons_map_to_finish_reasons(string stopReason, string finishReason)
    {
        fake.Handler = ctx => Json(ctx, TextMessage("x", stopReason));

        var result = await Complete(Request([User("hi")]));

        result.Completion.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe(finishReason);
    }

    [Fact]
    public async Task Forced_json_tool_input_comes_back_as_content_with_finish_stop()
    {
        fake.Handler = ctx => Json(ctx, """
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
             "content":[{"type":"tool_use","id":"toolu_01","name":"json_response","input":{"answer":"42"}}],
             "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":30,"output_tokens":9}}
            """);

        var result = await Complete(new ChatRequest
        {
            Body = [],
            Model = "claude-test",
            Messages = [User("Answer as JSON")],
            ResponseFormat = new ResponseFormat("json_object"),
        });

        var choice = result.Completion.ToObject()["choices"]![0]!;
        choice["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        ShouldEqualJson(choice["message"], """{"role":"assistant","content":"{\"answer\":\"42\"}"}""");
    }

    [Fact]
    public async Task Cache_read_and_creation_tokens_count_as_prompt_tokens()
    {
        fake.Handler = ctx => Json(ctx, TextMessage("ok", usage:
            """{"input_tokens":10,"output_tokens":7,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200}"""));

        var result = await Complete(Request([User("hi")]));

        result.Usage.ShouldBe(new TokenUsage(PromptTokens: 1210, CompletionTokens: 7, CachedTokens: 1000, CacheWriteTokens: 200));
        ShouldEqualJson(result.Completion.ToObject()["usage"],
            """{"prompt_tokens":1210,"completion_tokens":7,"total_tokens":1217,"prompt_tokens_details":{"cached_tokens":1000}}""");
    }

    // ---- streaming ----

    [Fact]
    public async Task Text_stream_becomes_role_content_and_finish_chunks_then_usage()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":25,"output_tokens":1}"""),
            Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""),
            Event("ping", """{"type":"ping"}"""),
            TextDelta(0, "Hel"),
            TextDelta(0, "lo"),
            Event("content_block_stop", """{"type":"content_block_stop","index":0}"""),
            MessageDelta("end_turn", """{"output_tokens":15}"""),
            MessageStop,
        ]);

        var (items, error) = await Stream(Request([User("hi")], stream: true));

        error.ShouldBeNull();
        var chunks = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()).ToList();
        chunks.Count.ShouldBe(4);
        ShouldEqualJson(chunks[0], $$"""
            {"id":"{{ResponseId}}","object":"chat.completion.chunk","created":{{Created}},"model":"claude-test",
             "choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
            """);
        chunks.Select(Delta).Skip(1).Take(2).Select(d => d["content"]!.GetValue<string>()).ShouldBe(["Hel", "lo"]);
        chunks[3]["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        items[^1].ShouldBe(ChatStreamItem.Final(new TokenUsage(25, 15)));
        items.Count(i => i.Chunk is null).ShouldBe(1, "the final usage comes once, as the last item");
        SentBody()["stream"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task Streamed_tool_calls_carry_index_id_name_and_argument_pieces()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":80,"output_tokens":1}"""),
            Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""),
            TextDelta(0, "Checking."),
            Event("content_block_stop", """{"type":"content_block_stop","index":0}"""),
            ToolStart(1, "toolu_01", "get_weather"),
            JsonDelta(1, "{\"city\": \"Pa"),
            JsonDelta(1, "ris\"}"),
            Event("content_block_stop", """{"type":"content_block_stop","index":1}"""),
            ToolStart(2, "toolu_02", "get_time"),
            JsonDelta(2, ""),
            Event("content_block_stop", """{"type":"content_block_stop","index":2}"""),
            MessageDelta("tool_use", """{"output_tokens":57}"""),
            MessageStop,
        ]);

        var (items, error) = await Stream(Request([User("Weather?")], stream: true));

        error.ShouldBeNull();
        var toolDeltas = items.Where(i => i.Chunk is not null).Select(i => Delta(i.Chunk!.Value.ToObject()))
            .Where(d => d.ContainsKey("tool_calls")).Select(d => d["tool_calls"]![0]!).ToList();
        ShouldEqualJson(new JsonArray(toolDeltas.Select(d => d.DeepClone()).ToArray()), """
            [{"index":0,"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":""}},
             {"index":0,"function":{"arguments":"{\"city\": \"Pa"}},
             {"index":0,"function":{"arguments":"ris\"}"}},
             {"index":1,"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":""}},
             {"index":1,"function":{"arguments":"{}"}}]
            """);
        items.Last(i => i.Chunk is not null).Chunk!.Value.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("tool_calls");
        items[^1].Usage.ShouldBe(new TokenUsage(80, 57));
    }

    [Fact]
    public async Task Streamed_forced_json_tool_becomes_content_deltas_with_finish_stop()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":30,"output_tokens":1}"""),
            ToolStart(0, "toolu_01", "json_response"),
            JsonDelta(0, "{\"answer\":"),
            JsonDelta(0, "\"42\"}"),
            Event("content_block_stop", """{"type":"content_block_stop","index":0}"""),
            MessageDelta("tool_use", """{"output_tokens":9}"""),
            MessageStop,
        ]);

        var (items, _) = await Stream(new ChatRequest
        {
            Body = [],
            Model = "claude-test",
            Messages = [User("Answer as JSON")],
            Stream = true,
            ResponseFormat = new ResponseFormat("json_object"),
        });

        var deltas = items.Where(i => i.Chunk is not null).Select(i => Delta(i.Chunk!.Value.ToObject())).ToList();
        deltas.Any(d => d.ContainsKey("tool_calls")).ShouldBeFalse();
        string.Concat(deltas.Select(d => d["content"]?.GetValue<string>())).ShouldBe("""{"answer":"42"}""");
        items.Last(i => i.Chunk is not null).Chunk!.Value.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
    }

    [Fact]
    public async Task Streamed_cache_tokens_are_normalised_and_cumulative_message_delta_usage_is_not_summed()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200}"""),
            TextDelta(0, "a"),
            MessageDelta(null, """{"output_tokens":20}"""),
            TextDelta(0, "b"),
            MessageDelta("end_turn", """{"input_tokens":10,"output_tokens":57,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200}"""),
            MessageStop,
        ]);

        var (items, error) = await Stream(Request([User("hi")], stream: true));

        error.ShouldBeNull();
        var usage = items.Single(i => i.Chunk is null).Usage!;
        usage.ShouldBe(new TokenUsage(PromptTokens: 1210, CompletionTokens: 57, CachedTokens: 1000, CacheWriteTokens: 200));
    }

    [Theory]
    [InlineData("")]
    [InlineData(""","usage":{}""")]
    public async Task A_stream_whose_events_carry_no_usage_ends_without_a_count_so_the_gateway_estimates_it(string usage)
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            Event("message_start", $$$"""{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5"{{{usage}}}}}"""),
            TextDelta(0, "Hello"),
            Event("message_delta", $$$"""{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null}{{{usage}}}}"""),
            MessageStop,
        ]);

        var (items, error) = await Stream(Request([User("hi")], stream: true));

        error.ShouldBeNull();
        items.ShouldContain(i => i.Chunk != null);
        items.ShouldAllBe(i => i.Usage == null, "a count of zero would be charged as zero");
    }

    [Fact]
    public async Task A_message_whose_usage_holds_no_count_is_billed_by_estimate_never_as_free()
    {
        fake.Handler = ctx => Json(ctx, TextMessage("An answer of some forty characters here.", usage: "{}"));

        var result = await Complete(Request([User("hi")]));

        result.Usage.PromptTokens.ShouldBeGreaterThan(0);
        result.Usage.CompletionTokens.ShouldBe(TokenEstimator.FromChars("An answer of some forty characters here.".Length));
    }

    [Fact]
    public async Task Error_event_mid_stream_delivers_earlier_chunks_then_throws_overloaded()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":25,"output_tokens":1}"""),
            TextDelta(0, "Partial"),
            Event("error", """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"""),
        ]);

        var (items, error) = await Stream(Request([User("hi")], stream: true));

        items.Count.ShouldBe(2);
        Delta(items[1].Chunk!.Value.ToObject())["content"]!.GetValue<string>().ShouldBe("Partial");
        var failure = error.ShouldBeOfType<ProviderException>();
        failure.Failure.ShouldBe(ProviderFailure.Overloaded);
        failure.Message.ShouldContain("Overloaded");
    }

    [Theory]
    [InlineData("rate_limit_error", ProviderFailure.RateLimited)]
    [InlineData("api_error", ProviderFailure.ServerError)]
    [InlineData("something_new", ProviderFailure.ServerError)]
    public async Task Error_event_types_map_to_failures(string errorType, ProviderFailure expected)
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":25,"output_tokens":1}"""),
            Event("error", $$$"""{"type":"error","error":{"type":"{{{errorType}}}","message":"boom"}}"""),
        ]);

        var (_, error) = await Stream(Request([User("hi")], stream: true));

        error.ShouldBeOfType<ProviderException>().Failure.ShouldBe(expected);
    }

    [Fact]
    public async Task Stream_that_ends_without_message_stop_is_malformed()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":25,"output_tokens":1}"""),
            TextDelta(0, "cut"),
        ]);

        var (items, error) = await Stream(Request([User("hi")], stream: true));

        items.Count.ShouldBe(2);
        items.ShouldAllBe(i => i.Chunk != null, "no final usage for a stream that never finished");
        items[^1].Usage.ShouldBe(new TokenUsage(25, 1), "but the usage so far rides along, for charging what was generated");
        error.ShouldBeOfType<ProviderException>().Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Fact]
    public async Task Garbage_event_data_is_malformed()
    {
        fake.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            MessageStart("""{"input_tokens":25,"output_tokens":1}"""),
            "event: content_block_delta\ndata: {\"type\":\"content_bl\n\n",
        ]);

        var (_, error) = await Stream(Request([User("hi")], stream: true));

        error.ShouldBeOfType<ProviderException>().Failure.ShouldBe(ProviderFailure.Malformed);
    }

    // ---- errors and transport ----

    [Theory]
    [InlineData(429, "rate_limit_error", ProviderFailure.RateLimited)]
    [InlineData(500, "api_error", ProviderFailure.ServerError)]
    [InlineData(529, "overloaded_error", ProviderFailure.Overloaded)]
    [InlineData(503, "overloaded_error", ProviderFailure.Overloaded)]
    [InlineData(400, "invalid_request_error", ProviderFailure.BadRequest)]
    [InlineData(401, "authentication_error", ProviderFailure.Unauthorized)]
    public async Task Error_statuses_map_to_failures_with_the_upstream_message(int status, string errorType, ProviderFailure expected)
    {
        fake.Handler = ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.Headers["retry-after"] = "7";
            return Json(ctx, $$"""{"type":"error","error":{"type":"{{errorType}}","message":"upstream says no"},"request_id":"req_1"}""", status);
        };

        var error = await Should.ThrowAsync<ProviderException>(() => Complete(Request([User("hi")])));

        error.Failure.ShouldBe(expected);
        error.UpstreamStatus.ShouldBe(status);
        error.RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
        error.Message.ShouldBe($"{errorType}: upstream says no");
    }

    [Fact]
    public async Task Error_status_on_a_stream_request_throws_before_any_chunk()
    {
        fake.Handler = ctx => Json(ctx, """{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}""", 429);

        var (items, error) = await Stream(Request([User("hi")], stream: true));

        items.ShouldBeEmpty();
        error.ShouldBeOfType<ProviderException>().Failure.ShouldBe(ProviderFailure.RateLimited);
    }

    [Theory]
    [InlineData("this is not json")]
    [InlineData("""{"type":"message","role":"assistant"}""")]
    public async Task Malformed_success_body_is_malformed(string body)
    {
        fake.Handler = ctx => Json(ctx, body);

        var error = await Should.ThrowAsync<ProviderException>(() => Complete(Request([User("hi")])));

        error.Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Fact]
    public async Task Connection_reset_is_unreachable()
    {
        fake.Handler = ctx =>
        {
            FakeUpstream.Reset(ctx);
            return Task.CompletedTask;
        };

        var error = await Should.ThrowAsync<ProviderException>(() => Complete(Request([User("hi")])));
        var (_, streamError) = await Stream(Request([User("hi")], stream: true));

        error.Failure.ShouldBe(ProviderFailure.Unreachable);
        streamError.ShouldBeOfType<ProviderException>().Failure.ShouldBe(ProviderFailure.Unreachable);
    }

    [Fact]
    public async Task Connection_reset_mid_stream_is_unreachable()
    {
        fake.Handler = async ctx =>
        {
            await FakeUpstream.WriteSseAsync(ctx, [MessageStart("""{"input_tokens":25,"output_tokens":1}"""), TextDelta(0, "Hi")]);
            // A reset discards data the client has not read yet; let it read first.
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            FakeUpstream.Reset(ctx);
        };

        var (items, error) = await Stream(Request([User("hi")], stream: true));

        items.Count.ShouldBe(2);
        error.ShouldBeOfType<ProviderException>().Failure.ShouldBe(ProviderFailure.Unreachable);
    }

    [Fact]
    public async Task Slow_first_byte_is_a_timeout()
    {
        fake.Handler = async ctx =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), ctx.RequestAborted);
            await Json(ctx, TextMessage("late"));
        };
        var timeouts = Quick with { FirstByte = TimeSpan.FromMilliseconds(200) };

        var error = await Should.ThrowAsync<ProviderException>(() => Complete(Request([User("hi")]), timeouts));

        error.Failure.ShouldBe(ProviderFailure.Timeout);
    }

    [Fact]
    public async Task Silent_stream_is_an_idle_timeout()
    {
        fake.Handler = async ctx =>
        {
            await FakeUpstream.WriteSseAsync(ctx, [MessageStart("""{"input_tokens":25,"output_tokens":1}""")]);
            await Task.Delay(TimeSpan.FromSeconds(5), ctx.RequestAborted);
        };
        var timeouts = Quick with { Idle = TimeSpan.FromMilliseconds(200) };

        var (items, error) = await Stream(Request([User("hi")], stream: true), timeouts);

        items.Count.ShouldBe(1);
        error.ShouldBeOfType<ProviderException>().Failure.ShouldBe(ProviderFailure.Timeout);
    }

    // ---- helpers ----

    private async Task<ChatResult> Complete(ChatRequest request, ProviderTimeouts? timeouts = null)
    {
        var (provider, call) = Setup(request, timeouts);
        return await provider.CompleteAsync(call, CancellationToken.None);
    }

    /// <summary>Everything the stream yielded, and the exception that ended it, if any.</summary>
    private async Task<(List<ChatStreamItem> Items, Exception? Error)> Stream(ChatRequest request, ProviderTimeouts? timeouts = null)
    {
        var (provider, call) = Setup(request, timeouts);
        var items = new List<ChatStreamItem>();
        try
        {
            await foreach (var item in provider.StreamAsync(call, CancellationToken.None))
                items.Add(item);
            return (items, null);
        }
        catch (Exception e)
        {
            return (items, e);
        }
    }

    private (AnthropicProvider, ChatCall) Setup(ChatRequest request, ProviderTimeouts? timeouts)
    {
        timeouts ??= Quick;
        var model = new CatalogModel(
            "claude-test",
            new ProviderConfig("anthropic", ProviderKind.Anthropic, fake.BaseUrl, KeyEnv, timeouts),
            "claude-sonnet-4-5",
            "anthropic",
            ContextWindow: 200_000,
            MaxOutputTokens: 8192,
            new ModelCapabilities(true, true, true, true, false, ["text", "image", "file"], ["text"]),
            new ModelPrices(3_000_000, 300_000, 3_750_000, 15_000_000));
        return (new AnthropicProvider(UpstreamHttp.CreateClient(timeouts)), new ChatCall(request, model, ResponseId, Created));
    }

    private JsonObject SentBody() => JsonNode.Parse(fake.Received.Single().Body)!.AsObject();

    private static ChatRequest Request(IReadOnlyList<ChatMessage> messages, bool stream = false) =>
        new() { Body = [], Model = "claude-test", Messages = messages, Stream = stream };

    private static ChatRequest WithTools(ToolChoice? toolChoice, bool? parallel) => new()
    {
        Body = [],
        Model = "claude-test",
        Messages = [User("hi")],
        Tools = [new ToolDefinition("get_weather", null, null, false)],
        ToolChoice = toolChoice,
        ParallelToolCalls = parallel,
    };

    private static ChatMessage User(string text) => new("user", [new TextPart(text)]);

    private static ChatMessage Assistant(string text) => new("assistant", [new TextPart(text)]);

    private static JsonObject Delta(JsonObject chunk) => chunk["choices"]![0]!["delta"]!.AsObject();

    private static void ShouldEqualJson(JsonNode? actual, string expected) =>
        JsonNode.DeepEquals(actual, JsonNode.Parse(expected)).ShouldBeTrue($"actual: {actual?.ToJsonString()}");

    private static async Task Json(HttpContext ctx, string body, int status = 200)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body);
    }

    private static string TextMessage(string text, string stopReason = "end_turn", string usage = """{"input_tokens":10,"output_tokens":3}""") =>
        $$$"""
        {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
         "content":[{"type":"text","text":"{{{text}}}"}],"stop_reason":"{{{stopReason}}}","stop_sequence":null,"usage":{{{usage}}}}
        """;

    private static string Event(string name, string data) => $"event: {name}\ndata: {data}\n\n";

    private static string MessageStart(string usage) => Event("message_start", $$$"""
        {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{{{usage}}}}}
        """.ReplaceLineEndings(""));

    private static string TextDelta(int index, string text) => Event("content_block_delta",
        new JsonObject { ["type"] = "content_block_delta", ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = text } }.ToJsonString());

    private static string JsonDelta(int index, string partialJson) => Event("content_block_delta",
        new JsonObject { ["type"] = "content_block_delta", ["index"] = index, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = partialJson } }.ToJsonString());

    private static string ToolStart(int index, string id, string name) => Event("content_block_start",
        $$$"""{"type":"content_block_start","index":{{{index}}},"content_block":{"type":"tool_use","id":"{{{id}}}","name":"{{{name}}}","input":{} } }""");

    private static string MessageDelta(string? stopReason, string usage)
    {
        var data = new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = stopReason, ["stop_sequence"] = null },
            ["usage"] = JsonNode.Parse(usage),
        };
        return Event("message_delta", data.ToJsonString());
    }

    private const string MessageStop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
}
