using Infery.Api.Gateway;
using Infery.Api.Gateway.Billing;
using Infery.Api.Tests.Fixtures;
using Npgsql;
using Infery.Api.Tests.Fakes;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// A live lease is renewed well before it lapses, but not on every upkeep: each renewal locks the lease row
/// that every charge updates, so renewing once a second held the charges up once a second.
/// </summary>
public sealed class CreditLeaseRenewalTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    [Fact]
    public async Task A_live_lease_is_renewed_once_per_renewal_interval_not_on_every_upkeep()
    {
        var (workspace, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 1m);
        await using var dataSource = NpgsqlDataSource.Create(gateway.ConnectionString);
        var clock = new ManualClock();
        var instance = new InstanceIdentity($"renewal-test-{Guid.NewGuid():N}");
        var options = new CreditLeaseOptions { Ttl = TimeSpan.FromSeconds(60), RenewEvery = TimeSpan.FromSeconds(15), IdleBeforeReturn = TimeSpan.FromHours(1) };
        var accounts = new CreditAccounts(dataSource, instance, clock, options);
        var ledger = new Ledger(gateway.ConnectionString);
        Task<long> ExpiresAt() => ledger.ScalarAsync(
            "select (extract(epoch from expires_at) * 1000000)::bigint from credit_leases where instance_id = $1", instance.Id);

        (await accounts.TryReserveAsync(workspace, 1_000, CancellationToken.None)).ShouldNotBeNull();
        var leased = await ExpiresAt();

        await UpkeepEverySecondAsync(accounts, clock, seconds: 14);
        (await ExpiresAt()).ShouldBe(leased, "no renewal before the interval is up");
        await UpkeepEverySecondAsync(accounts, clock, seconds: 1);
        var renewed = await ExpiresAt();
        renewed.ShouldBeGreaterThan(leased, "renewed once the interval is up");

        await UpkeepEverySecondAsync(accounts, clock, seconds: 14);
        (await ExpiresAt()).ShouldBe(renewed, "the interval starts again from the renewal");
        await UpkeepEverySecondAsync(accounts, clock, seconds: 1);
        (await ExpiresAt()).ShouldBeGreaterThan(renewed);
    }

    [Fact]
    public void Renewing_less_often_than_every_half_of_a_leases_time_to_live_is_refused()
    {
        using var dataSource = NpgsqlDataSource.Create(gateway.ConnectionString);
        var options = new CreditLeaseOptions { Ttl = TimeSpan.FromSeconds(10), RenewEvery = TimeSpan.FromSeconds(5) };

        Should.Throw<ArgumentOutOfRangeException>(() => new CreditAccounts(dataSource, new InstanceIdentity("too-rarely"), TimeProvider.System, options));
        new CreditLeaseOptions { Ttl = TimeSpan.FromSeconds(10) }.RenewEvery.ShouldBe(TimeSpan.FromSeconds(2.5));
    }

    private static async Task UpkeepEverySecondAsync(CreditAccounts accounts, ManualClock clock, int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await accounts.MaintainAsync(CancellationToken.None);
        }
    }
}
