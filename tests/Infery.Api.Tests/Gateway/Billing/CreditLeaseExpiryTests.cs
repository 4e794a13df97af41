using Infery.Api.Gateway;
using Infery.Api.Gateway.Billing;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Npgsql;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// An instance that could not renew its lease for its whole time to live stops reserving from it: by then the
/// database may have given the same credits to another instance, and both spending them would take the balance
/// below zero.
/// </summary>
public sealed class CreditLeaseExpiryTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private static readonly CreditLeaseOptions Options = new() { Ttl = TimeSpan.FromSeconds(60), IdleBeforeReturn = TimeSpan.FromHours(1) };

    [Fact]
    public async Task A_lease_not_renewed_for_its_time_to_live_reserves_nothing_once_another_instance_holds_the_credits()
    {
        var (workspace, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 1m);
        await using var dataSource = NpgsqlDataSource.Create(gateway.ConnectionString);
        var ledger = new Ledger(gateway.ConnectionString);
        var clock = new ManualClock();
        var first = new CreditAccounts(dataSource, new InstanceIdentity($"lapsed-{Guid.NewGuid():N}"), clock, Options);
        var second = new CreditAccounts(dataSource, new InstanceIdentity($"taker-{Guid.NewGuid():N}"), TimeProvider.System, Options);

        var held = await first.TryReserveAsync(workspace, 1_000, CancellationToken.None);
        held.ShouldNotBeNull();
        held.Release();
        (await first.TryReserveAsync(workspace, 1_000, CancellationToken.None)).ShouldNotBeNull("the lease covers it while it lasts");

        // A minute without renewal, as through a partition: the database lets the lease lapse.
        clock.Advance(Options.Ttl);
        await ledger.ScalarAsync("update credit_leases set expires_at = now() - interval '1 second' where workspace_id = $1", workspace);
        (await second.TryReserveAsync(workspace, 900_000, CancellationToken.None)).ShouldNotBeNull();
        (await ledger.ScalarAsync("select coalesce(sum(amount), 0) from credit_leases where workspace_id = $1", workspace))
            .ShouldBe(1_000_000, "the second instance leased the whole balance");

        (await first.TryReserveAsync(workspace, 1_000, CancellationToken.None)).ShouldBeNull();
    }

    [Fact]
    public async Task A_renewed_lease_keeps_covering_reservations_past_its_first_time_to_live()
    {
        var (workspace, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 1m);
        await using var dataSource = NpgsqlDataSource.Create(gateway.ConnectionString);
        var ledger = new Ledger(gateway.ConnectionString);
        var clock = new ManualClock();
        var accounts = new CreditAccounts(dataSource, new InstanceIdentity($"renewing-{Guid.NewGuid():N}"), clock, Options);
        (await accounts.TryReserveAsync(workspace, 1_000, CancellationToken.None)).ShouldNotBeNull();
        var leased = await ledger.ScalarAsync("select amount from credit_leases where workspace_id = $1", workspace);

        for (var second = 0; second < 90; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await accounts.MaintainAsync(CancellationToken.None);
        }
        // With the balance gone, nothing can be leased again: only a lease still valid in memory can cover this.
        await ledger.ScalarAsync("update workspace_balances set balance = 0 where workspace_id = $1", workspace);

        (await accounts.TryReserveAsync(workspace, 1_000, CancellationToken.None)).ShouldNotBeNull();
        leased.ShouldBeGreaterThan(2_000);
    }
}
