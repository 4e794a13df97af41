using System.Net;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;

namespace Infery.Api.Tests.Gateway.Resilience;

public sealed class EveryUpstreamFailingGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url)],
        [FakeModel("chain-a", "up-a", "chain-b", "chain-c"), FakeModel("chain-b", "up-b"), FakeModel("chain-c", "up-c")]),
    ConfiguredGatewayFactory.QuickRetries(("Resilience:MaxAttemptsPerRequest", "4"), ("Resilience:RetriesPerModel", "1")));

/// <summary>Retries times fallbacks never multiply: one request makes at most the configured number of upstream calls.</summary>
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
        var balance = await (await fixture.Gateway.AdminClient().GetAsync($"/admin/v1/workspaces/{workspace}")).JsonAsync();
        balance["balance"]!.GetValue<string>().ShouldBe("10.000000");
        balance["reserved"]!.GetValue<string>().ShouldBe("0.000000");
    }
}
