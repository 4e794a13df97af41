using Infery.Api.Gateway;
using Infery.Api.Gateway.Billing;
using Infery.Api.Tests.Fixtures;
using Npgsql;

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
        var options = new CreditLeaseOptions { RenewEvery = TimeSpan.FromSeconds(15), IdleBeforeReturn = TimeSpan.FromHours(1) };
        var accounts = new CreditAccounts(dataSource, instance, clock, options);
        var ledger = new Ledger(gateway.ConnectionString);
        Task<long> ExpiresAt() => ledger.ScalarAsync(
            "select (extract(epoch from expires_at) * 1000000)::bigint from credit_leases where instance_id = $1", instance.Id);

        (await accounts.TryReserveAsync(workspace, 1_000, CancellationToken.None)).ShouldNotBeNull();
        var leased = await ExpiresAt();

        for (var second = 1; second < 15; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await accounts.MaintainAsync(CancellationToken.None);
        }
        (await ExpiresAt()).ShouldBe(leased, "no renewal before the interval is up");

        clock.Advance(TimeSpan.FromSeconds(1));
        await accounts.MaintainAsync(CancellationToken.None);
        (await ExpiresAt()).ShouldBeGreaterThan(leased, "renewed once the interval is up");
    }

    private sealed class ManualClock : TimeProvider
    {
        private long ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => ticks;

        public void Advance(TimeSpan by) => ticks += by.Ticks;
    }
}
