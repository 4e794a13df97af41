using System.Net;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Gateway.Resilience;

public sealed class FailingUpstreamGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url), SimulatorProvider], [FakeModel("fake-chat", "up-chat", "sim-chat"), SimChat]),
    ConfiguredGatewayFactory.QuickRetries());

/// <summary>Each way an upstream fails that is not the request's fault sends the request to the next model.</summary>
public sealed class UpstreamFailureFallbackTests(FailingUpstreamGateway fixture) : IClassFixture<FailingUpstreamGateway>
{
    private GatewayFactory Gateway => fixture.Gateway;
    private FakeUpstream Upstream => fixture.Upstream;

    public static TheoryData<string, string> Failures => new()
    {
        { "429", "rate_limited" },
        { "500", "server_error" },
        { "503", "overloaded" },
        { "529", "overloaded" },
        { "reset", "unreachable" },
        { "slow-first-byte", "timeout" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task The_fallback_serves_when_the_upstream_fails(string failure, string reason)
    {
        Upstream.Handler = failure switch
        {
            "429" => FakeUpstreamGateway.Failing(429, retryAfterMs: "10"),
            "reset" => ctx => { FakeUpstream.Reset(ctx); return Task.CompletedTask; },
            "slow-first-byte" => async ctx => { await Task.Delay(TimeSpan.FromSeconds(3), ctx.RequestAborted); },
            _ => FakeUpstreamGateway.Failing(int.Parse(failure)),
        };
        var (_, key) = await Gateway.NewWorkspaceWithKeyAsync(10);
        var callsBefore = Upstream.Calls;

        var response = await Gateway.KeyClient(key).ChatAsync("fake-chat", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("sim-chat");
        response.Header("x-fallback-from").ShouldBe("fake-chat");
        response.Header("x-fallback-depth").ShouldBe("1");
        (await response.JsonAsync())["model"]!.GetValue<string>().ShouldBe("sim-chat");
        (Upstream.Calls - callsBefore).ShouldBeInRange(1, 2);
        var requestId = response.Header("x-request-id");
        var fired = (await RequestEvents.DataAsync(Gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).ShouldHaveSingleItem();
        fired["reason"]!.GetValue<string>().ShouldBe(reason);
        (await RequestEvents.CountAsync(Gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(1);
        var charged = await RequestEvents.ChargedAsync(Gateway.ConnectionString, requestId);
        charged.ShouldBeGreaterThan(0);
        response.Header("x-credits-used").ShouldBe(Infery.Domain.Credits.MicroCredits.Format(charged));
        var served = (await RequestEvents.DataAsync(Gateway.ConnectionString, RequestEvents.RequestServed, requestId)).ShouldHaveSingleItem();
        served["model_used"]!.GetValue<string>().ShouldBe("sim-chat");
        served["provider"]!.GetValue<string>().ShouldBe("simulator");
    }

    [Fact]
    public async Task A_redirect_falls_back_at_once_since_asking_again_would_be_redirected_again()
    {
        Upstream.Handler = ctx =>
        {
            ctx.Response.StatusCode = 307;
            ctx.Response.Headers.Location = "/v2/chat/completions";
            return Task.CompletedTask;
        };
        var (_, key) = await Gateway.NewWorkspaceWithKeyAsync(10);
        var callsBefore = Upstream.Calls;

        var response = await Gateway.KeyClient(key).ChatAsync("fake-chat", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("sim-chat");
        (Upstream.Calls - callsBefore).ShouldBe(1);
        var fired = (await RequestEvents.DataAsync(Gateway.ConnectionString, RequestEvents.FallbackFired, response.Header("x-request-id"))).ShouldHaveSingleItem();
        fired["reason"]!.GetValue<string>().ShouldBe("unreachable");
    }

    [Fact]
    public async Task A_stream_falls_back_when_the_upstream_fails_before_its_first_byte()
    {
        Upstream.Handler = FakeUpstreamGateway.Failing(503);
        var (_, key) = await Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await Gateway.KeyClient(key).ChatAsync("fake-chat", "Hello", stream: true);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("sim-chat");
        var events = GatewayClients.SseData(await response.Content.ReadAsStringAsync());
        events.ShouldAllBe(e => e["model"]!.GetValue<string>() == "sim-chat");
        (await RequestEvents.CountAsync(Gateway.ConnectionString, RequestEvents.FallbackFired, response.Header("x-request-id"))).ShouldBe(1);
    }

    [Fact]
    public async Task A_request_the_upstream_rejects_is_the_clients_and_does_not_fall_back()
    {
        Upstream.Handler = FakeUpstreamGateway.Failing(400);
        var (_, key) = await Gateway.NewWorkspaceWithKeyAsync(10);
        var callsBefore = Upstream.Calls;

        var response = await Gateway.KeyClient(key).ChatAsync("fake-chat", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = (await response.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("upstream_bad_request");
        error["type"]!.GetValue<string>().ShouldBe("invalid_request_error");
        (Upstream.Calls - callsBefore).ShouldBe(1);
        var requestId = response.Header("x-request-id");
        (await RequestEvents.CountAsync(Gateway.ConnectionString, RequestEvents.FallbackFired, requestId)).ShouldBe(0);
        (await RequestEvents.CountAsync(Gateway.ConnectionString, RequestEvents.CreditsCharged, requestId)).ShouldBe(0);
        (await RequestEvents.CountAsync(Gateway.ConnectionString, RequestEvents.RequestFailed, requestId)).ShouldBe(1);
    }

    [Fact]
    public async Task A_rejection_in_openais_envelope_keeps_the_providers_code_and_param()
    {
        Upstream.Handler = async ctx =>
        {
            ctx.Response.StatusCode = 400;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync("""
                {"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error",
                 "param":"messages","code":"context_length_exceeded"}}
                """);
        };
        var (_, key) = await Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await Gateway.KeyClient(key).ChatAsync("fake-chat", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = (await response.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("context_length_exceeded");
        error["param"]!.GetValue<string>().ShouldBe("messages");
        error["type"]!.GetValue<string>().ShouldBe("invalid_request_error");
        error["message"]!.GetValue<string>().ShouldContain("maximum context length is 128000 tokens");
        var failed = (await RequestEvents.DataAsync(Gateway.ConnectionString, RequestEvents.RequestFailed, response.Header("x-request-id"))).ShouldHaveSingleItem();
        failed["error_code"]!.GetValue<string>().ShouldBe("context_length_exceeded");
    }

    [Fact]
    public async Task A_healthy_upstream_serves_the_model_asked_for()
    {
        Upstream.Handler = FakeUpstreamGateway.Healthy();
        var (_, key) = await Gateway.NewWorkspaceWithKeyAsync(10);

        var response = await Gateway.KeyClient(key).ChatAsync("fake-chat", "Hello");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Header("x-model-used").ShouldBe("fake-chat");
        (await response.JsonAsync())["model"]!.GetValue<string>().ShouldBe("fake-chat");
    }
}
