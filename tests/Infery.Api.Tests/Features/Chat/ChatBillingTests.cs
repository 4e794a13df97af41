using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Providers;
using Infery.Api.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Features.Chat;

/// <summary>
/// What the client is told it paid is what the ledger charged, for every provider kind, streamed or not;
/// a client that leaves is still charged for what was generated; a request no provider served costs nothing.
/// </summary>
public sealed class ChatBillingTests(ChatGateway gateway) : IClassFixture<ChatGateway>, IAsyncLifetime
{
    private string key = null!;

    public async Task InitializeAsync()
    {
        gateway.ResetFakes();
        (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1_000);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public static TheoryData<string, long?> Models => new()
    {
        { "sim-chat", null },
        { "fake-openai", ProviderWire.OpenAiCost },
        { "fake-claude", ProviderWire.AnthropicCost },
        { "fake-gemini", ProviderWire.GeminiCost },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public async Task A_streams_credits_used_is_the_one_ledger_charge_for_its_request(string model, long? expectedCost)
    {
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body(model, "Stream me a reply.", stream: true, includeUsage: true), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        ChatHttp.Header(response, "x-request-id").ShouldBe(requestId);
        ChatHttp.Header(response, "x-model-used").ShouldBe(model);
        var (chunks, done) = ChatHttp.ReadSse(await response.Content.ReadAsStringAsync());
        done.ShouldBeTrue();
        chunks.ShouldAllBe(c => c["model"]!.GetValue<string>() == model);
        if (expectedCost is not null)
            ChatHttp.Text(chunks).ShouldBe(ProviderWire.ReplyText);

        // The last chunk before [DONE] carries the usage and credits_used, with empty choices, and no chunk before it has usage.
        chunks[^1]["usage"]!["total_tokens"]!.GetValue<int>().ShouldBeGreaterThan(0);
        chunks[^1]["choices"]!.AsArray().ShouldBeEmpty();
        chunks[^1]["credits_used"].ShouldNotBeNull();
        chunks[..^1].ShouldAllBe(c => c["usage"] == null && c["credits_used"] == null);
        var creditsUsed = ChatHttp.CreditsUsed(chunks);
        creditsUsed.ShouldBeGreaterThan(0);
        if (expectedCost is not null)
            creditsUsed.ShouldBe(expectedCost.Value);
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
        var served = (await gateway.EventsAsync("request.served.v1", requestId)).Single();
        served["outcome"]!.GetValue<string>().ShouldBe("completed");
        served["streamed"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task A_completions_x_credits_used_is_the_one_ledger_charge_for_its_request(string model, long? expectedCost)
    {
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body(model, "Reply once."), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        ChatHttp.Header(response, "x-request-id").ShouldBe(requestId);
        ChatHttp.Header(response, "x-model-used").ShouldBe(model);
        var creditsUsed = ChatHttp.MicroCreditsOf(ChatHttp.Header(response, "x-credits-used"));
        creditsUsed.ShouldBeGreaterThan(0);
        if (expectedCost is not null)
            creditsUsed.ShouldBe(expectedCost.Value);
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        body["model"]!.GetValue<string>().ShouldBe(model);
        if (expectedCost is not null)
            body["choices"]![0]!["message"]!["content"]!.GetValue<string>().ShouldBe(ProviderWire.ReplyText);
    }

    [Fact]
    public async Task Without_include_usage_a_stream_still_ends_with_credits_used_and_no_usage_chunk()
    {
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("fake-openai", "hi", stream: true), requestId));

        var (chunks, done) = ChatHttp.ReadSse(await response.Content.ReadAsStringAsync());
        done.ShouldBeTrue();
        chunks.ShouldNotContain(c => c.ContainsKey("usage"));
        ChatHttp.CreditsUsed(chunks).ShouldBe(ProviderWire.OpenAiCost);
        (await gateway.ChargesAsync(requestId)).ShouldBe([ProviderWire.OpenAiCost]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_providers_explicit_zero_completion_tokens_is_charged_as_reported_not_replaced_by_an_estimate(bool stream)
    {
        const string zeroUsage = """{"prompt_tokens":1000,"completion_tokens":0,"total_tokens":1000}""";
        gateway.OpenAi.Handler = stream
            ? ctx => FakeUpstream.WriteSseAsync(ctx,
            [
                """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-upstream","choices":[{"index":0,"delta":{"role":"assistant","content":"Nothing to add."},"finish_reason":"stop"}]}""" + "\n\n",
                $$"""data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-upstream","choices":[],"usage":{{zeroUsage}}}""" + "\n\n",
                "data: [DONE]\n\n",
            ])
            : ctx => ProviderWire.WriteJsonAsync(ctx, $$"""
                {"id":"c","object":"chat.completion","created":1,"model":"gpt-upstream",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"Nothing to add."},"finish_reason":"stop"}],"usage":{{zeroUsage}}}
                """);
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("fake-openai", "Say nothing.", stream: stream), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        await response.Content.ReadAsStringAsync();
        // The text received would be estimated at a few tokens: the provider's count of none is what is charged.
        const long promptOnly = 1_000 * 2;
        (await gateway.ChargesAsync(requestId)).ShouldBe([promptOnly]);
        var served = (await gateway.EventsAsync("request.served.v1", requestId)).Single();
        served["completion_tokens"]!.GetValue<int>().ShouldBe(0);
    }

    [Theory]
    [InlineData("fake-claude", true)]
    [InlineData("fake-gemini", true)]
    [InlineData("fake-gemini", false)]
    public async Task A_reply_whose_provider_gave_no_usage_is_charged_by_estimate_never_as_free(string model, bool stream)
    {
        var replyJson = new JsonObject { ["text"] = ProviderWire.ReplyText }.ToJsonString();
        gateway.Anthropic.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            ProviderWire.AnthropicEvent("message_start", """{"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-upstream"}}"""),
            ProviderWire.AnthropicEvent("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""),
            ProviderWire.AnthropicEvent("content_block_delta", $$$"""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",{{{replyJson[1..^1]}}}}}"""),
            ProviderWire.AnthropicEvent("content_block_stop", """{"type":"content_block_stop","index":0}"""),
            ProviderWire.AnthropicEvent("message_delta", """{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null}}"""),
            ProviderWire.AnthropicEvent("message_stop", """{"type":"message_stop"}"""),
        ]);
        var geminiReply = $$"""{"candidates":[{"content":{"role":"model","parts":[{{replyJson}}]},"finishReason":"STOP"}]}""";
        gateway.Gemini.Handler = stream
            ? ctx => FakeUpstream.WriteSseAsync(ctx, [$"data: {geminiReply}\r\n\r\n"])
            : ctx => ProviderWire.WriteJsonAsync(ctx, geminiReply);
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body(model, "Reply without counting.", stream: stream), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = await response.Content.ReadAsStringAsync();
        var creditsUsed = stream
            ? ChatHttp.CreditsUsed(ChatHttp.ReadSse(body).Events)
            : ChatHttp.MicroCreditsOf(ChatHttp.Header(response, "x-credits-used"));
        creditsUsed.ShouldBeGreaterThan(0);
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
        var served = (await gateway.EventsAsync("request.served.v1", requestId)).Single();
        served["prompt_tokens"]!.GetValue<int>().ShouldBeGreaterThan(0);
        served["completion_tokens"]!.GetValue<int>().ShouldBe(TokenEstimator.FromChars(ProviderWire.ReplyText.Length));
    }

    [Fact]
    public async Task Usage_on_a_last_chunk_that_still_carries_choices_is_charged()
    {
        gateway.OpenAi.Handler = ctx => FakeUpstream.WriteSseAsync(ctx,
        [
            """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-upstream","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}""" + "\n\n",
            """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-upstream","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":200,"total_tokens":1200,"prompt_tokens_details":{"cached_tokens":400}}}""" + "\n\n",
            "data: [DONE]\n\n",
        ]);
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("fake-openai", "Hi.", stream: true), requestId));

        var (chunks, done) = ChatHttp.ReadSse(await response.Content.ReadAsStringAsync());
        done.ShouldBeTrue();
        ChatHttp.CreditsUsed(chunks).ShouldBe(ProviderWire.OpenAiCost);
        (await gateway.ChargesAsync(requestId)).ShouldBe([ProviderWire.OpenAiCost]);
    }

    [Fact]
    public async Task Usage_beyond_the_reservation_is_charged_up_to_it_and_the_rest_recorded_as_uncharged()
    {
        gateway.OpenAi.Handler = ctx => ProviderWire.WriteJsonAsync(ctx, """
            {"id":"c","object":"chat.completion","created":1,"model":"gpt-upstream",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Short."},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":1000000,"completion_tokens":0,"total_tokens":1000000}}
            """);
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("fake-openai", "Hi."), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var creditsUsed = ChatHttp.MicroCreditsOf(ChatHttp.Header(response, "x-credits-used"));
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
        var charge = (await gateway.EventsAsync("credits.charged.v1", requestId)).Single();
        charge["uncharged"]!.GetValue<long>().ShouldBeGreaterThan(0);
        (creditsUsed + charge["uncharged"]!.GetValue<long>()).ShouldBe(1_000_000 * 2);
    }

    [Fact]
    public async Task A_client_that_leaves_mid_stream_is_charged_for_what_was_generated()
    {
        var upstreamCancelled = new TaskCompletionSource();
        gateway.OpenAi.Handler = async ctx =>
        {
            await FakeUpstream.WriteSseAsync(ctx, ProviderWire.OpenAiStream(["The first words ", "of a long answer"], finish: false));
            // Holds the stream open, as a long generation would, until the gateway hangs up.
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => upstreamCancelled.TrySetResult());
        };
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("fake-openai", "Write at length.", stream: true), requestId),
            HttpCompletionOption.ResponseHeadersRead);
        await using (var body = await response.Content.ReadAsStreamAsync())
        {
            var reader = new StreamReader(body);
            var seen = "";
            while (!seen.Contains("of a long answer"))
            {
                var next = reader.Read();
                next.ShouldNotBe(-1, $"the stream ended before the upstream's words arrived: {seen}");
                seen += (char)next;
            }
        }
        response.Dispose();

        var served = await gateway.WaitForEventAsync("request.served.v1", requestId);
        served["outcome"]!.GetValue<string>().ShouldBe("client_disconnected");
        // No usage came, so the text the client received is counted, and the prompt estimated: never the reservation.
        var completionTokens = served["completion_tokens"]!.GetValue<int>();
        completionTokens.ShouldBe(TokenEstimator.FromChars("The first words of a long answer".Length));
        var promptTokens = served["prompt_tokens"]!.GetValue<int>();
        promptTokens.ShouldBeGreaterThan(0);
        (await gateway.ChargesAsync(requestId)).ShouldBe([promptTokens * 2L + completionTokens * 8L]);
        await upstreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_completion_whose_client_leaves_while_the_provider_generates_runs_to_its_end_and_is_charged()
    {
        var generating = new TaskCompletionSource();
        gateway.OpenAi.Handler = async ctx =>
        {
            generating.TrySetResult();
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            await ProviderWire.OpenAiReply(ctx);
        };
        var requestId = ChatHttp.NewRequestId();
        using var leave = new CancellationTokenSource();

        var sent = gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("fake-openai", "Take your time."), requestId), leave.Token);
        await generating.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await leave.CancelAsync();
        await Should.ThrowAsync<OperationCanceledException>(sent);

        // The provider is paid for what it generated, so the gateway charges it, once, at the provider's count.
        var served = await gateway.WaitForEventAsync("request.served.v1", requestId);
        served["outcome"]!.GetValue<string>().ShouldBe("completed");
        (await gateway.ChargesAsync(requestId)).ShouldBe([ProviderWire.OpenAiCost]);
    }

    [Fact]
    public async Task A_provider_failure_before_any_output_charges_nothing_and_is_recorded()
    {
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("sim-flaky", "hi", stream: true), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        response.Headers.Contains("x-credits-used").ShouldBeFalse();
        (await gateway.ChargesAsync(requestId)).ShouldBeEmpty();
        (await gateway.EventsAsync("request.served.v1", requestId)).ShouldBeEmpty();
        var failed = (await gateway.EventsAsync("request.failed.v1", requestId)).Single();
        failed["error_code"]!.GetValue<string>().ShouldBe("upstream_overloaded");
        failed["status"]!.GetValue<int>().ShouldBe(503);
    }

    [Fact]
    public async Task A_provider_failing_mid_stream_charges_only_what_was_streamed_and_says_so()
    {
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body("sim-chat", "Go on [[sim:fail-after:2]]", stream: true), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var (chunks, done) = ChatHttp.ReadSse(await response.Content.ReadAsStringAsync());
        done.ShouldBeTrue();
        chunks[^1]["error"]!["code"]!.GetValue<string>().ShouldBe("upstream_error");
        var creditsUsed = ChatHttp.CreditsUsed(chunks);
        (await gateway.ChargesAsync(requestId)).ShouldBe([creditsUsed]);
        (await gateway.EventsAsync("request.served.v1", requestId)).Single()["outcome"]!.GetValue<string>().ShouldBe("provider_failed_mid_stream");
    }

    public static TheoryData<string, bool> MalformedBodies => new()
    {
        { "fake-openai", false },
        { "fake-openai", true },
        { "fake-claude", false },
        { "fake-claude", true },
        { "fake-gemini", false },
        { "fake-gemini", true },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task A_malformed_upstream_body_is_502_upstream_malformed_response_and_free(string model, bool stream)
    {
        RequestDelegate garbage = stream
            ? ctx => FakeUpstream.WriteSseAsync(ctx, ["data: {\"this is\": not json\n\n"])
            : ctx => ProviderWire.WriteJsonAsync(ctx, "<html>not json</html>");
        gateway.OpenAi.Handler = gateway.Anthropic.Handler = gateway.Gemini.Handler = garbage;
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body(model, "hi", stream), requestId));

        response.StatusCode.ShouldBe(HttpStatusCode.BadGateway);
        (await ErrorOf(response))["code"]!.GetValue<string>().ShouldBe("upstream_malformed_response");
        (await gateway.ChargesAsync(requestId)).ShouldBeEmpty();
        (await gateway.EventsAsync("request.failed.v1", requestId)).ShouldHaveSingleItem();
    }

    public static TheoryData<string, int, bool, int, string> UpstreamErrors => new()
    {
        { "fake-openai", 429, false, 503, "upstream_rate_limited" },
        { "fake-openai", 429, true, 503, "upstream_rate_limited" },
        { "fake-openai", 500, false, 502, "upstream_error" },
        { "fake-openai", 500, true, 502, "upstream_error" },
        { "fake-claude", 529, false, 503, "upstream_overloaded" },
        { "fake-claude", 529, true, 503, "upstream_overloaded" },
        { "fake-claude", 429, true, 503, "upstream_rate_limited" },
        { "fake-gemini", 500, true, 502, "upstream_error" },
        { "fake-gemini", 429, false, 503, "upstream_rate_limited" },
    };

    [Theory]
    [MemberData(nameof(UpstreamErrors))]
    public async Task An_upstream_error_status_is_mapped_and_charges_nothing(string model, int upstreamStatus, bool stream, int status, string code)
    {
        gateway.OpenAi.Handler = ProviderWire.Status(upstreamStatus, """{"error":{"message":"upstream says no","type":"server_error","code":null}}""");
        gateway.Anthropic.Handler = ProviderWire.Status(upstreamStatus, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""");
        gateway.Gemini.Handler = ProviderWire.Status(upstreamStatus, """{"error":{"code":500,"message":"upstream says no","status":"INTERNAL"}}""");
        var requestId = ChatHttp.NewRequestId();

        var response = await gateway.CreateClient().SendAsync(
            ChatHttp.Post("/v1/chat/completions", key, ChatHttp.Body(model, "hi", stream), requestId));

        ((int)response.StatusCode).ShouldBe(status);
        var error = await ErrorOf(response);
        error["code"]!.GetValue<string>().ShouldBe(code);
        error["type"]!.GetValue<string>().ShouldBe("upstream_error");
        (await gateway.ChargesAsync(requestId)).ShouldBeEmpty();
        (await gateway.EventsAsync("request.failed.v1", requestId)).Single()["error_code"]!.GetValue<string>().ShouldBe(code);
    }

    private static async Task<JsonObject> ErrorOf(HttpResponseMessage response)
    {
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.AsObject();
        error.Select(p => p.Key).ShouldBe(["message", "type", "param", "code"]);
        return error;
    }
}
