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
    public async Task Grants_charges_and_refunds_move_the_balance_in_the_same_transaction_and_notify_others()
    {
        await using var listener = await db.OpenConnectionAsync();
        var notes = new List<string>();
        listener.Notification += (_, n) => { lock (notes) notes.Add(n.Payload); };
        await using (var listen = new NpgsqlCommand($"listen {BalancesProjection.Channel}", listener))
            await listen.ExecuteNonQueryAsync();
        await using var store = new EventStore.EventStore(db, new EventTypeRegistry().RegisterAll(typeof(CreditsCharged).Assembly),
            new EventStoreOptions { InlineProjections = [new BalancesProjection("instance-a")] });

        await store.AppendQuickAsync("workspace-ws_1", "workspace", [new CreditsGranted("ws_1", 10_000, "top-up", "ops", Now)], EventMetadata.None);
        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => store.AppendAsync($"request-r{i}", "request", ExpectedVersion.NoStream,
            [new CreditsCharged("ws_1", $"r{i}", 100, "key_1", "sim-chat", Now)], EventMetadata.None)));
        await store.AppendQuickAsync("workspace-ws_1", "workspace", [new CreditsRefunded("ws_1", 250, "sorry", "support", "r1", Now)], EventMetadata.None);

        await using var cmd = db.CreateCommand("select balance, total_granted, total_charged, total_refunded, version from workspace_balances where workspace_id = 'ws_1'");
        await using var reader = await cmd.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue();
        reader.GetInt64(0).ShouldBe(10_000 - 50 * 100 + 250);
        reader.GetInt64(1).ShouldBe(10_000);
        reader.GetInt64(2).ShouldBe(5_000);
        reader.GetInt64(3).ShouldBe(250);
        var version = reader.GetInt64(4);

        for (var i = 0; i < 100 && notes.Count < version; i++)
            await listener.WaitAsync(TimeSpan.FromMilliseconds(50));
        notes.Count.ShouldBe((int)version, "one notification per batch that touched the balance");
        notes.ShouldAllBe(n => n.StartsWith("instance-a|ws_1|"));
        notes.Sum(n => long.Parse(n.Split('|')[2])).ShouldBe(10_000 - 5_000 + 250, "the deltas add up to the balance");
    }
}
