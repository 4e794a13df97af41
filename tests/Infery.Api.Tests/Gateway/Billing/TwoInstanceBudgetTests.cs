using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>Two gateway instances on one database share a workspace's credits through leases: together they never spend more than the balance.</summary>
public sealed class TwoInstanceBudgetTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private static object Chat() => new { model = "sim-chat", max_tokens = 50, messages = new[] { new { role = "user", content = "split me" } } };

    /// <summary>That many chat requests at once, every other one to each instance.</summary>
    private static Task<HttpResponseMessage[]> AlternatingAsync(HttpClient here, HttpClient there, int count) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(i => (i % 2 == 0 ? here : there).PostAsJsonAsync("/v1/chat/completions", Chat())));

    [Fact]
    public async Task A_burst_across_two_instances_never_spends_more_than_the_balance()
    {
        await using var other = await GatewayFactory.SecondInstanceOf(gateway);
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 0.004m);
        var here = gateway.KeyClient(key);
        var there = other.KeyClient(key);

        var responses = await AlternatingAsync(here, there, 200);

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.OK || r.StatusCode == HttpStatusCode.PaymentRequired);
        var served = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        served.ShouldNotBeEmpty();
        var ledger = new Ledger(gateway.ConnectionString);
        var totalCharged = await ledger.TotalChargedAsync(workspace);
        totalCharged.ShouldBeLessThanOrEqualTo(4_000);
        totalCharged.ShouldBe(served.Sum(r => (long)(decimal.Parse(r.Headers.GetValues("x-credits-used").Single(), CultureInfo.InvariantCulture) * 1_000_000)));
        (await ledger.BalanceAsync(workspace)).ShouldBeGreaterThanOrEqualTo(0);
        (await ledger.ScalarAsync("select coalesce(sum(amount), 0) from credit_leases where workspace_id = $1", workspace))
            .ShouldBeLessThanOrEqualTo(await ledger.BalanceAsync(workspace));
    }

    [Fact]
    public async Task A_burst_across_two_instances_on_ample_credit_is_served_whole()
    {
        await using var other = await GatewayFactory.SecondInstanceOf(gateway);
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1_000);
        var here = gateway.KeyClient(key);
        var there = other.KeyClient(key);

        var responses = await AlternatingAsync(here, there, 200);

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.OK);
        (await new Ledger(gateway.ConnectionString).ChargesAsync(workspace)).Count.ShouldBe(200);
    }

    [Fact]
    public async Task Two_instances_spending_a_balance_down_in_waves_charge_no_more_than_it_together()
    {
        await using var other = await GatewayFactory.SecondInstanceOf(gateway);
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 0.004m);
        var here = gateway.KeyClient(key);
        var there = other.KeyClient(key);

        // Waves of ten on each instance until a wave is refused whole: with a budget per instance, each would
        // spend up to the whole balance.
        var served = 0;
        for (var wave = 0; wave < 40; wave++)
        {
            var responses = await AlternatingAsync(here, there, 20);
            responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.OK || r.StatusCode == HttpStatusCode.PaymentRequired);
            var ok = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
            served += ok;
            if (ok == 0)
                break;
        }

        var ledger = new Ledger(gateway.ConnectionString);
        var charges = await ledger.ChargesAsync(workspace);
        charges.Count.ShouldBe(served);
        charges.Sum(c => c.Amount).ShouldBeLessThanOrEqualTo(4_000);
        // Nearly all of it: what is left covers no further request's worst case on either instance.
        charges.Sum(c => c.Amount).ShouldBeGreaterThan(3_000);
        (await ledger.BalanceAsync(workspace)).ShouldBeGreaterThanOrEqualTo(0);
    }

    [Fact]
    public async Task Credits_one_instance_leased_come_back_to_the_other_once_it_is_idle()
    {
        await using var other = await GatewayFactory.SecondInstanceOf(gateway);
        // Small enough that the first instance's lease takes all of it.
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 0.002m);

        (await gateway.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", Chat())).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await other.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", Chat())).StatusCode.ShouldBe(HttpStatusCode.PaymentRequired);

        var servedThere = false;
        for (var i = 0; i < 60 && !servedThere; i++)
        {
            await Task.Delay(100);
            servedThere = (await other.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", Chat())).StatusCode == HttpStatusCode.OK;
        }
        servedThere.ShouldBeTrue("the idle instance gave its unused lease back");
    }
}
