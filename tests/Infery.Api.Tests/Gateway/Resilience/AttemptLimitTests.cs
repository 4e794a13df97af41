using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Features.Chat;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Gateway.Resilience;

public sealed class EveryUpstreamFailingGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url)],
        [FakeModel("chain-a", "up-a", "chain-b", "chain-c"), FakeModel("chain-b", "up-b"), FakeModel("chain-c", "up-c")]),
    ConfiguredGatewayFactory.QuickRetries(("Resilience:MaxAttemptsPerRequest", "4"), ("Resilience:RetriesPerModel", "1")));

/// <summary>
/// Retries times fallbacks never multiply: one request makes at most the configured number of upstream calls, and
/// each call that failed is an event on the request's stream.
/// </summary>
public sealed class AttemptLimitTests(EveryUpstreamFailingGateway fixture) : IClassFixture<EveryUpstreamFailingGateway>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_every_upstream_failing_the_calls_stop_at_the_cap_and_nothing_is_charged(bool stream)
    {
        var calls = 0;
        var failing = FakeUpstreamGateway.Failing(500);
        fixture.Upstream.Handler = ctx => { Interlocked.Increment(ref calls); return failing(ctx); };
        var (workspace, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await fixture.Gateway.KeyClient(key).ChatAsync("chain-a", "Hello", stream);

        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var error = (await response.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("all_providers_failed");
        var message = error["message"]!.GetValue<string>();
        message.ShouldContain("chain-a: server_error 500");
        message.ShouldContain("chain-b: server_error 500");
        message.ShouldContain("attempt limit");
        calls.ShouldBeLessThanOrEqualTo(4);
        calls.ShouldBe(4);
        var requestId = response.Header("x-request-id");
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(0);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestFailed, requestId)).ShouldBe(1);
        var fired = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).ShouldHaveSingleItem();
        fired["from_model"]!.GetValue<string>().ShouldBe("chain-a");
        fired["attempts"]!.GetValue<int>().ShouldBe(2);
        var attempts = await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.UpstreamAttemptFailed, requestId);
        attempts.Select(a => (a["attempt"]!.GetValue<int>(), a["model"]!.GetValue<string>(), a["upstream_status"]!.GetValue<int>()))
            .ShouldBe([(1, "chain-a", 500), (2, "chain-a", 500), (3, "chain-b", 500), (4, "chain-b", 500)]);
        attempts.ShouldAllBe(a => a["reason"]!.GetValue<string>() == "server_error" && a["message"]!.GetValue<string>().Contains("upstream says no"));
        var balance = await (await fixture.Gateway.AdminClient().GetAsync($"/admin/v1/workspaces/{workspace}")).JsonAsync();
        balance["balance"]!.GetValue<string>().ShouldBe("10.000000");
        balance["reserved"]!.GetValue<string>().ShouldBe("0.000000");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_request_served_by_its_second_fallback_names_it_and_is_charged_once_as_it_was_told(bool stream)
    {
        // A retry-after beyond the cap moves on at once: one call to each failing model, then the last one serves.
        var refusing = FakeUpstreamGateway.Failing(429, retryAfterMs: "600000");
        fixture.Upstream.Handler = async ctx =>
        {
            ctx.Request.EnableBuffering();
            var sent = await JsonNode.ParseAsync(ctx.Request.Body);
            ctx.Request.Body.Position = 0;
            if (sent!["model"]!.GetValue<string>() != "up-c")
                await refusing(ctx);
            else if (stream)
                await FakeUpstream.WriteSseAsync(ctx,
                [
                    """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up-c","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}""" + "\n\n",
                    """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up-c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}""" + "\n\n",
                    "data: [DONE]\n\n",
                ]);
            else
                await FakeUpstreamGateway.Healthy()(ctx);
        };
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await fixture.Gateway.KeyClient(key).ChatAsync("chain-a", "Hello", stream);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("chain-c");
        response.Header("x-fallback-from").ShouldBe("chain-a");
        response.Header("x-fallback-depth").ShouldBe("2");
        var body = await response.Content.ReadAsStringAsync();
        long told;
        if (stream)
        {
            var chunks = GatewayClients.SseData(body);
            chunks.ShouldAllBe(c => c["model"]!.GetValue<string>() == "chain-c");
            told = ChatHttp.MicroCreditsOf(chunks.Single(c => c["credits_used"] != null)["credits_used"]!.GetValue<string>());
        }
        else
        {
            JsonNode.Parse(body)!["model"]!.GetValue<string>().ShouldBe("chain-c");
            told = ChatHttp.MicroCreditsOf(response.Header("x-credits-used"));
        }
        var requestId = response.Header("x-request-id");
        var fired = await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.FallbackFired, requestId);
        fired.Select(f => (f["from_model"]!.GetValue<string>(), f["to_model"]!.GetValue<string>(), f["depth"]!.GetValue<int>()))
            .ShouldBe([("chain-a", "chain-b", 1), ("chain-b", "chain-c", 2)]);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.UpstreamAttemptFailed, requestId)).ShouldBe(2);
        told.ShouldBeGreaterThan(0);
        (await RequestEvents.ChargedAsync(fixture.Gateway.ConnectionString, requestId)).ShouldBe(told);
    }

    [Fact]
    public async Task A_stream_whose_client_leaves_during_a_retry_leaves_the_failed_calls_recorded_with_its_failure()
    {
        var calls = 0;
        var retrying = new TaskCompletionSource();
        var failing = FakeUpstreamGateway.Failing(503);
        fixture.Upstream.Handler = async ctx =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await failing(ctx);
                return;
            }
            retrying.TrySetResult();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { });
        };
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var requestId = "req_left_during_retry";
        using var leave = new CancellationTokenSource();

        var request = fixture.Gateway.KeyClient(key).ChatAsync("chain-a", "Hello", stream: true, requestId: requestId, ct: leave.Token);
        await retrying.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await leave.CancelAsync();
        await Should.ThrowAsync<OperationCanceledException>(request);

        await Eventually.TrueAsync(
            async () => await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestFailed, requestId) == 1,
            "the request's failure should be recorded");
        var outcome = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestFailed, requestId)).Single();
        outcome["error_code"]!.GetValue<string>().ShouldBe("client_disconnected");
        var failed = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.UpstreamAttemptFailed, requestId)).ShouldHaveSingleItem();
        failed["attempt"]!.GetValue<int>().ShouldBe(1);
        failed["upstream_status"]!.GetValue<int>().ShouldBe(503);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(0);
    }

    [Fact]
    public async Task A_request_served_after_a_retry_records_the_failed_call_beside_its_charge()
    {
        var calls = 0;
        var failing = FakeUpstreamGateway.Failing(503);
        var healthy = FakeUpstreamGateway.Healthy();
        fixture.Upstream.Handler = ctx => Interlocked.Increment(ref calls) == 1 ? failing(ctx) : healthy(ctx);
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await fixture.Gateway.KeyClient(key).ChatAsync("chain-a", "Hello", stream: false);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("chain-a");
        calls.ShouldBe(2);
        var requestId = response.Header("x-request-id");
        var failed = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.UpstreamAttemptFailed, requestId)).ShouldHaveSingleItem();
        failed["attempt"]!.GetValue<int>().ShouldBe(1);
        failed["model"]!.GetValue<string>().ShouldBe("chain-a");
        failed["reason"]!.GetValue<string>().ShouldBe("overloaded");
        failed["upstream_status"]!.GetValue<int>().ShouldBe(503);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestServed, requestId)).ShouldBe(1);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(1);
    }
}
