using System.Net;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Features.Idempotency;

public sealed class SlowUpstreamGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url, firstByteMs: 5000), SimulatorProvider], [FakeModel("fake-slow", "up-slow"), SimChat]),
    ConfiguredGatewayFactory.QuickRetries());

/// <summary>A short wait bound, so a retry that arrives while the first request runs gets 409.</summary>
public sealed class ImpatientGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url, firstByteMs: 5000), SimulatorProvider], [FakeModel("fake-slow", "up-slow"), SimChat]),
    ConfiguredGatewayFactory.QuickRetries(("Idempotency:WaitForInFlightMs", "100")));

public sealed class LoopbackUpstreamGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url, firstByteMs: 5000)], [FakeModel("fake-slow", "up-slow")]),
    ConfiguredGatewayFactory.QuickRetries(), loopback: true);

public sealed class IdempotencyKeyTests(SlowUpstreamGateway fixture) : IClassFixture<SlowUpstreamGateway>
{
    [Fact]
    public async Task Twenty_concurrent_requests_with_one_key_make_one_call_one_charge_and_twenty_identical_answers()
    {
        var calls = 0;
        var healthy = FakeUpstreamGateway.Healthy(TimeSpan.FromMilliseconds(300));
        fixture.Upstream.Handler = ctx => { Interlocked.Increment(ref calls); return healthy(ctx); };
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.ChatAsync("fake-slow", "Hello", idempotencyKey: idempotencyKey)));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.OK);
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));
        bodies.Distinct().ShouldHaveSingleItem();
        var requestIds = responses.Select(r => r.Header("x-request-id")).Distinct().ShouldHaveSingleItem();
        responses.Select(r => r.Header("x-credits-used")).Distinct().ShouldHaveSingleItem();
        responses.Select(r => r.Header("x-model-used")).Distinct().ShouldHaveSingleItem().ShouldBe("fake-slow");
        responses.Count(r => r.OptionalHeader("idempotent-replayed") == "true").ShouldBe(19);
        calls.ShouldBe(1);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestServed, requestIds)).ShouldBe(1);
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, requestIds)).ShouldBe(1);
    }

    [Fact]
    public async Task A_retry_after_the_first_finished_is_replayed_and_a_different_body_is_refused()
    {
        fixture.Upstream.Handler = FakeUpstreamGateway.Healthy();
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();

        var first = await client.ChatAsync("fake-slow", "Hello", idempotencyKey: idempotencyKey);
        var callsAfterFirst = fixture.Upstream.Calls;
        var replay = await client.ChatAsync("fake-slow", "Hello", idempotencyKey: idempotencyKey);
        var different = await client.ChatAsync("fake-slow", "Hello, but otherwise", idempotencyKey: idempotencyKey);

        replay.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await replay.Content.ReadAsStringAsync()).ShouldBe(await first.Content.ReadAsStringAsync());
        replay.Header("x-request-id").ShouldBe(first.Header("x-request-id"));
        replay.Header("idempotent-replayed").ShouldBe("true");
        first.OptionalHeader("idempotent-replayed").ShouldBeNull();
        different.StatusCode.ShouldBe((HttpStatusCode)422);
        (await different.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("idempotency_key_reused");
        fixture.Upstream.Calls.ShouldBe(callsAfterFirst);
    }

    [Fact]
    public async Task A_stream_is_replayed_as_the_same_stream()
    {
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();

        var first = await client.ChatAsync("sim-chat", "Tell me a story", stream: true, idempotencyKey: idempotencyKey);
        var firstBody = await first.Content.ReadAsStringAsync();
        var replay = await client.ChatAsync("sim-chat", "Tell me a story", stream: true, idempotencyKey: idempotencyKey);

        replay.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        replay.Header("idempotent-replayed").ShouldBe("true");
        (await replay.Content.ReadAsStringAsync()).ShouldBe(firstBody);
        firstBody.ShouldContain("credits_used");
        firstBody.ShouldEndWith("data: [DONE]\n\n");
        (await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.CreditsCharged, first.Header("x-request-id"))).ShouldBe(1);
    }

    [Fact]
    public async Task A_request_no_provider_served_releases_its_key_so_a_retry_runs()
    {
        fixture.Upstream.Handler = FakeUpstreamGateway.Failing(503);
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();

        var failed = await client.ChatAsync("fake-slow", "Hello", idempotencyKey: idempotencyKey);
        fixture.Upstream.Handler = FakeUpstreamGateway.Healthy();
        var retried = await client.ChatAsync("fake-slow", "Hello", idempotencyKey: idempotencyKey);

        failed.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        retried.StatusCode.ShouldBe(HttpStatusCode.OK);
        retried.OptionalHeader("idempotent-replayed").ShouldBeNull();
        retried.Header("x-request-id").ShouldNotBe(failed.Header("x-request-id"));
    }

    [Fact]
    public async Task A_stream_that_ended_short_releases_its_key_so_a_retry_runs()
    {
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();

        var cut = await client.ChatAsync("sim-chat", "[[sim:fail-after:2]] Tell me a story", stream: true, idempotencyKey: idempotencyKey);
        (await cut.Content.ReadAsStringAsync()).ShouldContain("\"error\"");
        var retried = await client.ChatAsync("sim-chat", "[[sim:fail-after:2]] Tell me a story", stream: true, idempotencyKey: idempotencyKey);
        await retried.Content.ReadAsStringAsync();

        retried.OptionalHeader("idempotent-replayed").ShouldBeNull();
        retried.Header("x-request-id").ShouldNotBe(cut.Header("x-request-id"));
    }

    [Fact]
    public async Task One_key_with_the_same_body_on_another_endpoint_is_not_replayed()
    {
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();
        const string body = """{"model":"sim-chat","prompt":"Hi","messages":[{"role":"user","content":"Hi"}]}""";

        var legacy = await client.SendAsync(Post("/v1/completions"));
        var chat = await client.SendAsync(Post("/v1/chat/completions"));

        legacy.StatusCode.ShouldBe(HttpStatusCode.OK);
        chat.StatusCode.ShouldBe((HttpStatusCode)422);
        (await chat.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("idempotency_key_reused");

        HttpRequestMessage Post(string path)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Add("Idempotency-Key", idempotencyKey);
            return request;
        }
    }

    [Fact]
    public async Task A_key_longer_than_255_characters_is_refused()
    {
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await fixture.Gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", idempotencyKey: new string('k', 256));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.JsonAsync())["error"]!["param"]!.GetValue<string>().ShouldBe("Idempotency-Key");
    }

    [Fact]
    public async Task Keys_belong_to_their_workspace()
    {
        var (_, firstKey) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var (_, secondKey) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var idempotencyKey = Guid.NewGuid().ToString();

        var first = await fixture.Gateway.KeyClient(firstKey).ChatAsync("sim-chat", "Hello", idempotencyKey: idempotencyKey);
        var second = await fixture.Gateway.KeyClient(secondKey).ChatAsync("sim-chat", "Hello", idempotencyKey: idempotencyKey);

        second.OptionalHeader("idempotent-replayed").ShouldBeNull();
        second.Header("x-request-id").ShouldNotBe(first.Header("x-request-id"));
    }
}

public sealed class IdempotencyInFlightTests(ImpatientGateway fixture) : IClassFixture<ImpatientGateway>
{
    [Fact]
    public async Task A_retry_that_cannot_wait_for_the_first_request_gets_409()
    {
        fixture.Upstream.Handler = FakeUpstreamGateway.Healthy(TimeSpan.FromMilliseconds(1500));
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();

        var first = client.ChatAsync("fake-slow", "Hello", idempotencyKey: idempotencyKey);
        await Task.Delay(300);
        var second = await client.ChatAsync("fake-slow", "Hello", idempotencyKey: idempotencyKey);

        second.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        (await second.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("idempotency_key_in_flight");
        (await first).StatusCode.ShouldBe(HttpStatusCode.OK);
        fixture.Upstream.Calls.ShouldBe(1);
    }
}

/// <summary>Over a real socket: a client that hangs up reaches the gateway as a departure.</summary>
public sealed class ClientLeavingIdempotencyTests(LoopbackUpstreamGateway fixture) : IClassFixture<LoopbackUpstreamGateway>
{
    [Fact]
    public async Task A_stream_whose_client_left_before_its_first_byte_releases_its_key_so_a_retry_runs()
    {
        var upstreamCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.Upstream.Handler = async ctx =>
        {
            upstreamCalled.TrySetResult();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        };
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);
        var idempotencyKey = Guid.NewGuid().ToString();
        var leavingId = "leaving-" + Guid.NewGuid().ToString("N");

        using var leaving = new CancellationTokenSource();
        var first = client.SendAsync(StreamRequest(idempotencyKey, leavingId), HttpCompletionOption.ResponseHeadersRead, leaving.Token);
        await upstreamCalled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await leaving.CancelAsync();
        await Should.ThrowAsync<OperationCanceledException>(first);
        for (var waited = 0; await RequestEvents.CountAsync(fixture.Gateway.ConnectionString, RequestEvents.RequestFailed, leavingId) == 0; waited += 50)
        {
            waited.ShouldBeLessThan(10_000, "the gateway never recorded the client's departure");
            await Task.Delay(50);
        }

        fixture.Upstream.Handler = ctx => FakeUpstream.WriteSseAsync(ctx, [
            """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up-slow","choices":[{"index":0,"delta":{"role":"assistant","content":"Second time lucky"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}""" + "\n\n",
            "data: [DONE]\n\n",
        ]);
        var retried = await client.SendAsync(StreamRequest(idempotencyKey, null));

        retried.StatusCode.ShouldBe(HttpStatusCode.OK);
        retried.OptionalHeader("idempotent-replayed").ShouldBeNull();
        (await retried.Content.ReadAsStringAsync()).ShouldContain("Second time lucky");
    }

    private static HttpRequestMessage StreamRequest(string idempotencyKey, string? requestId)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"fake-slow","stream":true,"messages":[{"role":"user","content":"Hello"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (requestId is not null)
            request.Headers.Add("x-request-id", requestId);
        return request;
    }
}
