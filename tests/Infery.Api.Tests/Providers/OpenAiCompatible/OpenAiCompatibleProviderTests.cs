using System.Text;
using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;
using Infery.Api.Providers;
using Infery.Api.Providers.OpenAiCompatible;
using Infery.Api.Tests.Fakes;
using Microsoft.AspNetCore.Http;
using static Infery.Api.Tests.Providers.TestChat;

namespace Infery.Api.Tests.Providers.OpenAiCompatible;

public sealed class OpenAiCompatibleProviderTests : IAsyncLifetime
{
    private const string KeyVariable = "INFERY_TEST_OPENAI_COMPATIBLE_KEY";
    private const string UpstreamModel = "gpt-4o-mini";
    private const string Slug = "openai/gpt-4o-mini";

    private static readonly ProviderTimeouts Quick = new(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300));

    private static readonly HttpClient Http = UpstreamHttp.CreateClient(ProviderTimeouts.Default);

    private FakeUpstream upstream = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(KeyVariable, "sk-test-key");
        upstream = await FakeUpstream.StartAsync();
    }

    public async Task DisposeAsync() => await upstream.DisposeAsync();

    [Fact]
    public async Task The_clients_body_goes_upstream_with_only_the_model_replaced()
    {
        string? authorization = null;
        upstream.Handler = ctx =>
        {
            authorization = ctx.Request.Headers.Authorization;
            return Json(ctx, 200, Completion("Hi"));
        };
        var extra = JsonNode.Parse("""{"logit_bias":{"50256":-100},"service_tier":"flex","future_field":{"nested":[1,2]}}""")!.AsObject();
        var request = Request([User("Hello")], model: Slug, maxTokens: 50, extraFields: extra);

        await Provider().CompleteAsync(Call(request, OpenAiModel()), default);

        var (path, body, _) = upstream.Received.ShouldHaveSingleItem();
        path.ShouldBe("/v1/chat/completions");
        authorization.ShouldBe("Bearer sk-test-key");
        var sent = JsonNode.Parse(body)!.AsObject();
        sent["model"]!.GetValue<string>().ShouldBe(UpstreamModel);
        sent["messages"]![0]!["content"]!.GetValue<string>().ShouldBe("Hello");
        sent["max_completion_tokens"]!.GetValue<int>().ShouldBe(50);
        sent["logit_bias"]!["50256"]!.GetValue<int>().ShouldBe(-100);
        sent["service_tier"]!.GetValue<string>().ShouldBe("flex");
        sent["future_field"]!.ToJsonString().ShouldBe("""{"nested":[1,2]}""");
        sent["stream"]!.GetValue<bool>().ShouldBeFalse();
        request.Body["model"]!.GetValue<string>().ShouldBe(Slug);
    }

    [Fact]
    public async Task Without_a_key_no_authorization_is_sent()
    {
        bool? sentAuthorization = null;
        upstream.Handler = ctx =>
        {
            sentAuthorization = ctx.Request.Headers.ContainsKey("Authorization");
            return Json(ctx, 200, Completion("Hi"));
        };

        await Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel(keyVariable: null)), default);

        sentAuthorization.ShouldBe(false);
    }

    [Fact]
    public async Task A_stream_always_asks_for_usage()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [Sse(Chunk("""{"role":"assistant","content":"Hi"}""", "stop")), "data: [DONE]\n\n"]);
        var request = Request([User("Hello")], stream: true,
            extraFields: JsonNode.Parse("""{"stream_options":{"include_usage":false,"include_obfuscation":false}}""")!.AsObject());

        await Collect(Provider().StreamAsync(Call(request, OpenAiModel()), default));

        var sent = JsonNode.Parse(upstream.Received.ShouldHaveSingleItem().Body)!;
        sent["stream"]!.GetValue<bool>().ShouldBeTrue();
        sent["stream_options"]!["include_usage"]!.GetValue<bool>().ShouldBeTrue();
        sent["stream_options"]!["include_obfuscation"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public async Task A_completion_comes_back_with_the_gateways_id_created_and_slug()
    {
        upstream.Handler = ctx => Json(ctx, 200, Completion("Hello there", usage: """
            {"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},
             "completion_tokens_details":{"reasoning_tokens":0}}
            """));

        var result = await Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default);

        var body = result.Completion.ToObject();
        body["id"]!.GetValue<string>().ShouldBe("chatcmpl-test123");
        body["created"]!.GetValue<long>().ShouldBe(1_767_225_600);
        body["model"]!.GetValue<string>().ShouldBe(Slug);
        body["system_fingerprint"]!.GetValue<string>().ShouldBe("fp_upstream");
        body["service_tier"]!.GetValue<string>().ShouldBe("default");
        body["choices"]![0]!["message"]!["content"]!.GetValue<string>().ShouldBe("Hello there");
        body["usage"]!["prompt_tokens_details"]!["cached_tokens"]!.GetValue<int>().ShouldBe(8);
        result.Usage.ShouldBe(new TokenUsage(PromptTokens: 19, CompletionTokens: 10, CachedTokens: 8));
    }

    // xAI: reasoning apart from completion_tokens, inside total_tokens. OpenAI: reasoning inside completion_tokens.
    [Theory]
    [InlineData("""{"prompt_tokens":10120,"completion_tokens":1499,"total_tokens":14428,"completion_tokens_details":{"reasoning_tokens":2809}}""", 4308)]
    [InlineData("""{"prompt_tokens":10120,"completion_tokens":4308,"total_tokens":14428,"completion_tokens_details":{"reasoning_tokens":2809}}""", 4308)]
    [InlineData("""{"prompt_tokens":10120,"completion_tokens":1499,"completion_tokens_details":{"reasoning_tokens":2809}}""", 1499)]
    public async Task Reasoning_tokens_are_billed_and_shown_as_output_whether_or_not_completion_tokens_include_them(string usage, int billedOutput)
    {
        upstream.Handler = ctx => Json(ctx, 200, Completion("Done.", usage));
        var whole = await Provider().CompleteAsync(Call(Request([User("Think hard.")]), OpenAiModel()), default);
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":"Done."}""", "stop")),
            Sse($$"""{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"grok-4","choices":[],"usage":{{usage}}}"""),
            "data: [DONE]\n\n",
        ]);
        var streamed = await Collect(Provider().StreamAsync(Call(Request([User("Think hard.")], stream: true), OpenAiModel()), default));

        whole.Usage.ShouldBe(new TokenUsage(10120, billedOutput));
        streamed[^1].Usage.ShouldBe(new TokenUsage(10120, billedOutput));
        // The client reads completion_tokens in OpenAI's meaning, reasoning included; the rest of the usage as it came.
        var shown = whole.Completion.ToObject()["usage"]!;
        shown["completion_tokens"]!.GetValue<int>().ShouldBe(billedOutput);
        shown["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>().ShouldBe(2809);
        shown["prompt_tokens"]!.GetValue<int>().ShouldBe(10120);
    }

    [Fact]
    public async Task A_usage_without_counts_is_no_usage_and_is_billed_by_estimate_streamed_or_not()
    {
        upstream.Handler = ctx => Json(ctx, 200, Completion("An answer of some length", usage: "{}"));
        var whole = await Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default);
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":"An answer of some length"}""", "stop")),
            Sse("""{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{}}"""),
            "data: [DONE]\n\n",
        ]);
        var streamed = await Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default));

        var estimated = TokenEstimator.Count("An answer of some length");
        whole.Usage.CompletionTokens.ShouldBe(estimated);
        whole.Completion.ToObject()["usage"]!["completion_tokens"]!.GetValue<int>().ShouldBe(estimated);
        streamed[^1].Usage!.CompletionTokens.ShouldBe(estimated);
    }

    [Fact]
    public async Task A_completion_without_usage_is_billed_by_estimate()
    {
        upstream.Handler = ctx => Json(ctx, 200, Completion("An answer of some length", usage: null));
        var request = Request([User("Hello")]);

        var result = await Provider().CompleteAsync(Call(request, OpenAiModel()), default);

        result.Usage.PromptTokens.ShouldBe(TokenEstimator.EstimatePrompt(request));
        result.Usage.CompletionTokens.ShouldBe(TokenEstimator.Count("An answer of some length"));
        result.Completion.ToObject()["usage"]!["completion_tokens"]!.GetValue<int>().ShouldBe(result.Usage.CompletionTokens);
    }

    [Fact]
    public async Task A_stream_is_forwarded_rewritten_and_its_usage_chunk_becomes_the_final_usage()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":""}""")),
            Sse(Chunk("""{"content":"Hel"}""")),
            Sse(Chunk("""{"content":"lo"}""")),
            Sse(Chunk("{}", "stop")),
            Sse("""{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,"prompt_tokens_details":{"cached_tokens":64}}}"""),
            "data: [DONE]\n\n",
        ]);

        var items = await Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default));

        var chunks = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()).ToList();
        chunks.Count.ShouldBe(4);
        chunks.ShouldAllBe(c => c["id"]!.GetValue<string>() == "chatcmpl-test123"
            && c["created"]!.GetValue<long>() == 1_767_225_600
            && c["model"]!.GetValue<string>() == Slug
            && c["system_fingerprint"]!.GetValue<string>() == "fp_upstream"
            && !c.ContainsKey("usage"));
        string.Concat(chunks.Select(c => c["choices"]![0]!["delta"]!["content"]?.GetValue<string>())).ShouldBe("Hello");
        chunks[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        items[^1].ShouldBe(ChatStreamItem.Final(new TokenUsage(82, 17, CachedTokens: 64)));
    }

    [Fact]
    public async Task Usage_on_a_chunk_that_still_has_choices_is_kept_and_the_chunk_forwarded()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":"Hi"}""")),
            Sse(Chunk("{}", "stop", usage: """{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}""")),
            "data: [DONE]\n\n",
        ]);

        var items = await Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default));

        items.Count.ShouldBe(3);
        items[1].Chunk!.Value.ToObject()["choices"]![0]!["finish_reason"]!.GetValue<string>().ShouldBe("stop");
        items[1].Chunk!.Value.ToObject().ContainsKey("usage").ShouldBeFalse();
        items[2].Usage.ShouldBe(new TokenUsage(12, 3));
    }

    [Fact]
    public async Task A_stream_without_usage_is_billed_by_estimate_never_zero()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":"The answer "}""")),
            Sse(Chunk("""{"content":"is forty-two."}""")),
            Sse(Chunk("{}", "stop")),
            "data: [DONE]\n\n",
        ]);
        var request = Request([User("What is the answer?")], stream: true);

        var items = await Collect(Provider().StreamAsync(Call(request, OpenAiModel()), default));

        var usage = items[^1].Usage.ShouldNotBeNull();
        usage.PromptTokens.ShouldBe(TokenEstimator.EstimatePrompt(request));
        usage.CompletionTokens.ShouldBe(TokenEstimator.Count("The answer is forty-two."));
        usage.CompletionTokens.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Chunks_come_as_utf8_ready_to_forward_with_the_characters_the_client_receives()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":"Caf\u00e9","reasoning_content":"not counted for the client"}""")),
            Sse(Chunk("""{"tool_calls":[{"index":0,"function":{"name":"not counted","arguments":"{\"a\":1}"}}]}""", "stop")),
            "data: [DONE]\n\n",
        ]);
        var chunks = new List<(ChatJson Chunk, string Json)>();

        await foreach (var item in Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default))
            if (item.Chunk is { } chunk)
                chunks.Add((chunk, Encoding.UTF8.GetString(chunk.Utf8.Span)));

        chunks.Count.ShouldBe(2);
        chunks.ShouldAllBe(c => c.Chunk.Object == null);
        chunks[0].Chunk.ReceivedChars.ShouldBe("Café".Length);
        chunks[1].Chunk.ReceivedChars.ShouldBe("""{"a":1}""".Length);
        chunks[0].Json.ShouldContain("""{"role":"assistant","content":"Caf\u00e9","reasoning_content":"not counted for the client"}""");
        chunks[0].Json.ShouldStartWith("""{"id":"chatcmpl-test123","object":"chat.completion.chunk","created":1767225600,"model":"openai/gpt-4o-mini",""");
    }

    [Fact]
    public async Task Carriage_returns_comments_multi_line_data_and_split_reads_are_read_as_server_sent_events()
    {
        var first = Chunk("""{"role":"assistant","content":"Hel"}""");
        var betweenTokens = first.IndexOf("\"created\"", StringComparison.Ordinal);
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            ": keep-alive\r\n\r\n",
            $"event: chunk\r\ndata: {first[..betweenTokens]}\r\ndata: {first[betweenTokens..]}\r\n\r\n",
            "data: " + Chunk("""{"content":"lo"}""")[..25],
            Chunk("""{"content":"lo"}""")[25..] + "\r\n\r\n",
            "data:" + Chunk("{}", "stop") + "\r\n\r\ndata: [DONE]\r\n\r\n",
        ], delay: TimeSpan.FromMilliseconds(20));

        var items = await Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default));

        var chunks = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()).ToList();
        chunks.Count.ShouldBe(3);
        string.Concat(chunks.Select(c => c["choices"]![0]!["delta"]!["content"]?.GetValue<string>())).ShouldBe("Hello");
        chunks.ShouldAllBe(c => c["id"]!.GetValue<string>() == "chatcmpl-test123");
        items[^1].Usage!.CompletionTokens.ShouldBe(TokenEstimator.Count("Hello"));
    }

    [Fact]
    public async Task A_chunk_whose_error_is_null_is_forwarded()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse("""{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}],"error":null}"""),
            "data: [DONE]\n\n",
        ]);

        var items = await Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default));

        items.Count.ShouldBe(2);
        items[0].Chunk!.Value.ToObject()["choices"]![0]!["delta"]!["content"]!.GetValue<string>().ShouldBe("Hi");
    }

    [Fact]
    public async Task Streamed_tool_calls_are_forwarded_fragment_by_fragment()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}""")),
            Sse(Chunk("""{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}""")),
            Sse(Chunk("""{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}""")),
            Sse(Chunk("{}", "tool_calls")),
            "data: [DONE]\n\n",
        ]);

        var items = await Collect(Provider().StreamAsync(Call(Request([User("Weather in Paris?")], stream: true), OpenAiModel()), default));

        var deltas = items.Where(i => i.Chunk is not null).Select(i => i.Chunk!.Value.ToObject()["choices"]![0]!).ToList();
        deltas.Count.ShouldBe(4);
        var opening = deltas[0]["delta"]!["tool_calls"]![0]!;
        opening["id"]!.GetValue<string>().ShouldBe("call_1");
        opening["function"]!["name"]!.GetValue<string>().ShouldBe("get_weather");
        string.Concat(deltas.Select(d => d["delta"]!["tool_calls"]?[0]?["function"]?["arguments"]?.GetValue<string>())).ShouldBe("""{"city":"Paris"}""");
        deltas[^1]["finish_reason"]!.GetValue<string>().ShouldBe("tool_calls");
        items[^1].Usage!.CompletionTokens.ShouldBeGreaterThan(0);
    }

    [Theory]
    [InlineData("""{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}""", ProviderFailure.ServerError)]
    [InlineData("""{"message":"The engine is currently overloaded.","type":"service_unavailable_error","param":null,"code":"server_is_overloaded"}""", ProviderFailure.Overloaded)]
    [InlineData("""{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}""", ProviderFailure.RateLimited)]
    public async Task An_error_payload_mid_stream_fails_the_stream(string error, ProviderFailure expected)
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            Sse(Chunk("""{"role":"assistant","content":"Partial"}""")),
            Sse($$"""{"error":{{error}}}"""),
        ]);
        var received = new List<ChatStreamItem>();

        var failure = await Should.ThrowAsync<ProviderException>(async () =>
        {
            await foreach (var item in Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default))
                received.Add(item);
        });

        failure.Failure.ShouldBe(expected);
        failure.Message.ShouldContain(JsonNode.Parse(error)!["message"]!.GetValue<string>());
        received.ShouldHaveSingleItem().Chunk.ShouldNotBeNull();
    }

    [Theory]
    [InlineData(400, "invalid_request_error", "invalid_value", ProviderFailure.BadRequest)]
    [InlineData(401, "invalid_request_error", "invalid_api_key", ProviderFailure.Unauthorized)]
    [InlineData(429, "tokens", "rate_limit_exceeded", ProviderFailure.RateLimited)]
    [InlineData(500, "server_error", null, ProviderFailure.ServerError)]
    [InlineData(503, "service_unavailable_error", "server_is_overloaded", ProviderFailure.Overloaded)]
    public async Task Error_statuses_map_to_failures_with_the_providers_message(int status, string type, string? code, ProviderFailure expected)
    {
        var envelope = new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = $"upstream said {status}", ["type"] = type, ["param"] = null, ["code"] = code },
        };
        upstream.Handler = ctx => Json(ctx, status, envelope.ToJsonString());

        var failure = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default));

        failure.Failure.ShouldBe(expected);
        failure.UpstreamStatus.ShouldBe(status);
        failure.Message.ShouldContain($"upstream said {status}");
        failure.Message.ShouldContain(type);
        if (code is not null)
            failure.Message.ShouldContain(code);
    }

    [Fact]
    public async Task A_429_before_a_stream_carries_the_retry_after()
    {
        upstream.Handler = ctx =>
        {
            ctx.Response.Headers.RetryAfter = "7";
            return Json(ctx, 429, """{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}""");
        };

        var failure = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default)));

        failure.Failure.ShouldBe(ProviderFailure.RateLimited);
        failure.RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_malformed()
    {
        upstream.Handler = ctx => Json(ctx, 200, "<html>Bad gateway</html>");

        var failure = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default));

        failure.Failure.ShouldBe(ProviderFailure.Malformed);
        failure.Message.ShouldBe("the response body is not valid JSON: <html>Bad gateway</html>");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_body_larger_than_the_limit_is_malformed_whether_or_not_its_length_is_announced(bool announced)
    {
        upstream.Handler = async ctx =>
        {
            var piece = new byte[1024 * 1024];
            piece.AsSpan().Fill((byte)' ');
            ctx.Response.ContentType = "application/json";
            if (announced)
                ctx.Response.ContentLength = UpstreamHttp.MaxBodyBytes + piece.Length;
            for (var i = 0; i <= UpstreamHttp.MaxBodyBytes / piece.Length; i++)
                await ctx.Response.Body.WriteAsync(piece);
        };

        var failure = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default));

        failure.Failure.ShouldBe(ProviderFailure.Malformed);
        failure.Message.ShouldBe("the response body is larger than 33,554,432 bytes");
    }

    [Fact]
    public async Task A_body_that_is_json_but_not_an_object_is_malformed()
    {
        upstream.Handler = ctx => Json(ctx, 200, """[{"choices":[]}]""");

        var failure = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default));

        failure.Failure.ShouldBe(ProviderFailure.Malformed);
        failure.Message.ShouldBe("the response body is not a JSON object");
    }

    [Fact]
    public async Task An_error_in_a_200_body_fails_the_completion_with_its_message()
    {
        upstream.Handler = ctx => Json(ctx, 200, """{"error":{"message":"The engine is currently overloaded.","type":"service_unavailable_error","param":null,"code":"server_is_overloaded"}}""");

        var failure = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default));

        failure.Failure.ShouldBe(ProviderFailure.Overloaded);
        failure.Message.ShouldBe("The engine is currently overloaded. (type: service_unavailable_error, code: server_is_overloaded)");
    }

    [Fact]
    public async Task A_body_with_a_byte_order_mark_and_null_usage_is_read_and_billed_by_estimate()
    {
        upstream.Handler = ctx => Json(ctx, 200, "\uFEFF" + Completion("Hello there", usage: "null"));

        var result = await Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default);

        var body = result.Completion.ToObject();
        body["id"]!.GetValue<string>().ShouldBe("chatcmpl-test123");
        body["usage"]!["completion_tokens"]!.GetValue<int>().ShouldBe(TokenEstimator.Count("Hello there"));
        body.Select(p => p.Key).ShouldBe(["id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint"]);
        result.Usage.CompletionTokens.ShouldBe(TokenEstimator.Count("Hello there"));
    }

    [Fact]
    public async Task A_body_without_choices_is_malformed()
    {
        upstream.Handler = ctx => Json(ctx, 200, """{"id":"x","object":"chat.completion"}""");

        var failure = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default));

        failure.Failure.ShouldBe(ProviderFailure.Malformed);
    }

    [Fact]
    public async Task A_garbage_chunk_is_malformed()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [Sse(Chunk("""{"content":"ok"}""")), "data: {not json\n\n"]);

        var failure = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default)));

        failure.Failure.ShouldBe(ProviderFailure.Malformed);
        failure.Message.ShouldBe("the stream chunk is not valid JSON: {not json");
    }

    [Fact]
    public async Task A_chunk_that_is_not_an_object_is_malformed_and_a_blank_one_is_skipped()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [Sse(Chunk("""{"content":"ok"}""")), "data: \t \u00a0\n\n", "data: [1,2]\n\n"]);

        var failure = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default)));

        failure.Failure.ShouldBe(ProviderFailure.Malformed);
        failure.Message.ShouldBe("the stream chunk is not a JSON object");
    }

    [Fact]
    public async Task A_reset_connection_is_unreachable()
    {
        upstream.Handler = ctx =>
        {
            FakeUpstream.Reset(ctx);
            return Task.CompletedTask;
        };

        var complete = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel()), default));
        var stream = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default)));

        complete.Failure.ShouldBe(ProviderFailure.Unreachable);
        stream.Failure.ShouldBe(ProviderFailure.Unreachable);
    }

    [Fact]
    public async Task A_connection_reset_mid_stream_is_unreachable()
    {
        upstream.Handler = async ctx =>
        {
            await FakeUpstream.WriteSseAsync(ctx, [Sse(Chunk("""{"role":"assistant","content":"Par"}"""))]);
            // Let the first chunk be read before the reset, which would otherwise discard it in flight.
            await Task.Delay(100);
            FakeUpstream.Reset(ctx);
        };
        var received = new List<ChatStreamItem>();

        var failure = await Should.ThrowAsync<ProviderException>(async () =>
        {
            await foreach (var item in Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default))
                received.Add(item);
        });

        failure.Failure.ShouldBe(ProviderFailure.Unreachable);
        received.ShouldHaveSingleItem();
    }

    [Fact]
    public async Task A_slow_first_byte_is_a_timeout()
    {
        upstream.Handler = async ctx =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted).ContinueWith(_ => { });
            await Json(ctx, 200, Completion("too late"));
        };

        var complete = await Should.ThrowAsync<ProviderException>(() => Provider().CompleteAsync(Call(Request([User("Hello")]), OpenAiModel(Quick)), default));
        var stream = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel(Quick)), default)));

        complete.Failure.ShouldBe(ProviderFailure.Timeout);
        stream.Failure.ShouldBe(ProviderFailure.Timeout);
    }

    [Fact]
    public async Task A_stream_that_goes_quiet_is_a_timeout()
    {
        upstream.Handler = async ctx =>
        {
            await FakeUpstream.WriteSseAsync(ctx, [Sse(Chunk("""{"role":"assistant","content":"Hi"}"""))]);
            await Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted).ContinueWith(_ => { });
        };

        var failure = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel(Quick)), default)));

        failure.Failure.ShouldBe(ProviderFailure.Timeout);
    }

    [Fact]
    public async Task A_stream_that_ends_before_finishing_is_a_server_error()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [Sse(Chunk("""{"role":"assistant","content":"Half an ans"}"""))]);

        var failure = await Should.ThrowAsync<ProviderException>(() => Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default)));

        failure.Failure.ShouldBe(ProviderFailure.ServerError);
    }

    [Fact]
    public async Task A_finished_stream_without_done_still_ends_with_usage()
    {
        upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [Sse(Chunk("""{"role":"assistant","content":"Done"}""", "stop"))]);

        var items = await Collect(Provider().StreamAsync(Call(Request([User("Hello")], stream: true), OpenAiModel()), default));

        items.Count.ShouldBe(2);
        items[^1].Usage!.CompletionTokens.ShouldBe(1);
    }

    private static OpenAiCompatibleProvider Provider() => new(Http);

    private CatalogModel OpenAiModel(ProviderTimeouts? timeouts = null, string? keyVariable = KeyVariable) =>
        Model(UpstreamModel, Slug, new ProviderConfig("openai", ProviderKind.OpenAiCompatible, new Uri(upstream.BaseUrl, "v1/"), keyVariable, timeouts ?? ProviderTimeouts.Default));

    private static string Completion(string content, string? usage = """{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}""") =>
        new JsonObject
        {
            ["id"] = "chatcmpl-upstream",
            ["object"] = "chat.completion",
            ["created"] = 1_700_000_000,
            ["model"] = "gpt-4o-mini-2024-07-18",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content, ["refusal"] = null },
                ["logprobs"] = null,
                ["finish_reason"] = "stop",
            }),
            ["usage"] = usage is null ? null : JsonNode.Parse(usage),
            ["service_tier"] = "default",
            ["system_fingerprint"] = "fp_upstream",
        }.ToJsonString();

    /// <summary>A chunk as OpenAI sends it when include_usage is on: usage null on every chunk but the last.</summary>
    private static string Chunk(string delta, string? finishReason = null, string usage = "null") =>
        $$"""{"id":"chatcmpl-up","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_upstream","choices":[{"index":0,"delta":{{delta}},"logprobs":null,"finish_reason":{{(finishReason is null ? "null" : $"\"{finishReason}\"")}}}],"usage":{{usage}}}""";

    private static string Sse(string data) => $"data: {data}\n\n";

    private static async Task Json(HttpContext ctx, int status, string body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body);
    }

    /// <summary>Every item, each chunk parsed as it comes: the provider reuses a chunk's buffer for the next.</summary>
    private static async Task<List<ChatStreamItem>> Collect(IAsyncEnumerable<ChatStreamItem> stream)
    {
        var items = new List<ChatStreamItem>();
        await foreach (var item in stream)
            items.Add(item.Chunk is { } chunk ? item with { Chunk = chunk.ToObject() } : item);
        return items;
    }
}
