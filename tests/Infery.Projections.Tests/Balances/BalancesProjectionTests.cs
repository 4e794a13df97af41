using Infery.Domain.Credits;
using Infery.EventStore;
using Infery.EventStore.Schema;
using Infery.Projections.Balances;
using Infery.Testing.Fixtures;
using Npgsql;

namespace Infery.Projections.Tests.Balances;

public sealed class BalancesProjectionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private NpgsqlDataSource db = null!;

    public async Task InitializeAsync()
    {
        db = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync("proj"));
        await SchemaMigrator.ApplyAsync(db, [SchemaModule.EventStore, ProjectionsSchema.Module]);
    }

    public async Task DisposeAsync() => await db.DisposeAsync();

    [Fact]
    public async Task Grants_charges_and_refunds_move_the_balance_and_charges_come_off_the_charging_instances_lease()
    {
        await using var store = new EventStore.EventStore(db, new EventTypeRegistry().RegisterAll(typeof(CreditsCharged).Assembly),
            new EventStoreOptions { InlineProjections = [new BalancesProjection("instance-a")] });
        await store.AppendQuickAsync("workspace-ws_1", "workspace", [new CreditsGranted("ws_1", 10_000, "top-up", "ops", Now)], EventMetadata.None);
        await using (var lease = db.CreateCommand(
            "insert into credit_leases values ('ws_1', 'instance-a', 8000, now() + interval '1 minute'), ('ws_1', 'instance-b', 1000, now() + interval '1 minute')"))
            await lease.ExecuteNonQueryAsync();

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => store.AppendAsync($"request-r{i}", "request", ExpectedVersion.NoStream,
            [new CreditsCharged("ws_1", $"r{i}", 100, "key_1", "sim-chat", Now)], EventMetadata.None)));
        await store.AppendQuickAsync("workspace-ws_1", "workspace", [new CreditsRefunded("ws_1", 250, "sorry", "support", "r1", Now)], EventMetadata.None);

        (await RowAsync("select balance, total_granted, total_charged, total_refunded from workspace_balances where workspace_id = 'ws_1'"))
            .ShouldBe([10_000 - 50 * 100 + 250, 10_000, 5_000, 250]);
        (await RowAsync("select amount from credit_leases where instance_id = 'instance-a'")).ShouldBe([8_000 - 5_000]);
        (await RowAsync("select amount from credit_leases where instance_id = 'instance-b'")).ShouldBe([1_000], "another instance's lease is untouched");
    }

    [Fact]
    public void A_batch_charging_several_workspaces_updates_them_in_one_order_whatever_order_the_charges_came_in()
    {
        // Every writer takes these rows in the same order, so two concurrent batches never deadlock.
        using var batch = new NpgsqlBatch();

        new BalancesProjection("instance-a").Project([Charge("ws_b"), Charge("ws_a"), Charge("ws_c"), Charge("ws_a")], batch);

        batch.BatchCommands.Select((NpgsqlBatchCommand c) => (string)c.Parameters[0].Value!).Distinct().ShouldBe(["ws_a", "ws_b", "ws_c"]);
    }

    private static EventEnvelope Charge(string workspace) =>
        new($"request-{workspace}", 1, "credits.charged.v1", new CreditsCharged(workspace, "r", 100, "key_1", "sim-chat", Now), EventMetadata.None, Now);

    private async Task<long[]> RowAsync(string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue();
        return Enumerable.Range(0, reader.FieldCount).Select(reader.GetInt64).ToArray();
    }
}
