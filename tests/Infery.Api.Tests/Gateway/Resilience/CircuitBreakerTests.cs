using System.Diagnostics;
using System.Net;
using Infery.Api.Catalog;
using Infery.Api.Gateway.Resilience;
using Infery.Api.Providers;
using Infery.Api.Tests.Fixtures;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Infery.Api.Tests.Gateway.Resilience;

public sealed class BreakingGateway() : FakeUpstreamGateway(
    url => Catalog([FakeProvider(url), SimulatorProvider], [FakeModel("fake-circuit", "up-circuit", "sim-chat"), SimChat]),
    ConfiguredGatewayFactory.QuickRetries(
        ("Resilience:RetriesPerModel", "0"),
        ("Resilience:CircuitBreaker:MinimumThroughput", "2"),
        ("Resilience:CircuitBreaker:FailureRatio", "0.5"),
        ("Resilience:CircuitBreaker:BreakDurationMs", "500")));

public sealed class CircuitBreakerTests(BreakingGateway fixture, ITestOutputHelper output) : IClassFixture<BreakingGateway>
{
    [Fact]
    public async Task An_open_circuit_is_skipped_without_an_upstream_call_and_closes_after_its_break()
    {
        fixture.Upstream.Handler = FakeUpstreamGateway.Failing(500);
        var (_, key) = await fixture.Gateway.NewWorkspaceWithKeyAsync(10);
        var client = fixture.Gateway.KeyClient(key);

        for (var i = 0; i < 2; i++)
            (await client.ChatAsync("fake-circuit", "Hello")).Header("x-model-used").ShouldBe("sim-chat");
        var callsWhenOpened = fixture.Upstream.Calls;
        callsWhenOpened.ShouldBe(2);

        for (var i = 0; i < 5; i++)
        {
            var skipped = await client.ChatAsync("fake-circuit", "Hello");
            skipped.StatusCode.ShouldBe(HttpStatusCode.OK);
            skipped.Header("x-model-used").ShouldBe("sim-chat");
            var fired = (await RequestEvents.DataAsync(fixture.Gateway.ConnectionString, RequestEvents.FallbackFired, skipped.Header("x-request-id")))
                .ShouldHaveSingleItem();
            fired["reason"]!.GetValue<string>().ShouldBe("circuit_open");
            fired["attempts"]!.GetValue<int>().ShouldBe(0);
        }
        fixture.Upstream.Calls.ShouldBe(callsWhenOpened);

        fixture.Upstream.Handler = FakeUpstreamGateway.Healthy();
        await Task.Delay(TimeSpan.FromMilliseconds(700));
        var recovered = await client.ChatAsync("fake-circuit", "Hello");

        recovered.Header("x-model-used").ShouldBe("fake-circuit");
        recovered.Header("x-fallback-depth").ShouldBe("0");
        fixture.Upstream.Calls.ShouldBe(callsWhenOpened + 1);
    }

    [Fact]
    public async Task Skipping_an_open_circuit_makes_no_call_and_its_cost_is_reported()
    {
        var options = Options.Create(new ResilienceOptions
        {
            CircuitBreaker = new CircuitBreakerSettings { MinimumThroughput = 2, FailureRatio = 0.5, BreakDurationMs = 60_000 },
        });
        var circuits = new CircuitBreakers(options, TimeProvider.System);
        var model = new CatalogModel("m", new ProviderConfig("p", ProviderKind.OpenAiCompatible, new Uri("http://127.0.0.1:9/"), null, ProviderTimeouts.Default),
            "up-m", "test", 1000, 100, new ModelCapabilities(false, false, false, false, false, ["text"], ["text"]), new ModelPrices(1, 1, 1, 1));
        var calls = 0;
        Task<string> Failing(CancellationToken _)
        {
            calls++;
            throw new ProviderException(ProviderFailure.ServerError, "down", 500);
        }
        for (var i = 0; i < 2; i++)
            (await circuits.CallAsync(model, Failing, default)).Exception.ShouldBeOfType<ProviderException>();

        const int skips = 10_000;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < skips; i++)
            (await circuits.CallAsync(model, Failing, default)).Exception.ShouldBeOfType<Polly.CircuitBreaker.BrokenCircuitException>();
        watch.Stop();

        calls.ShouldBe(2);
        output.WriteLine($"open circuit skipped in {watch.Elapsed.TotalMicroseconds / skips:0.00} µs per call (informational)");
    }
}
