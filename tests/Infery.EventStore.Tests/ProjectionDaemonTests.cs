using Infery.EventStore.Projections;
using Npgsql;

namespace Infery.EventStore.Tests;

public sealed class ProjectionDaemonTests(EventStoreFixture db) : IClassFixture<EventStoreFixture>
{
    [Fact]
    public async Task A_projection_rebuilt_from_zero_equals_the_one_built_incrementally()
    {
        await db.ExecuteAsync("create table if not exists thing_totals (writer text primary key, events bigint not null, number_sum bigint not null)");
        await using var store = db.NewStore();
        var daemon = new ProjectionDaemon(db.DataSource, store, [new ThingTotals()], batchSize: 37);

        // Built incrementally: the daemon runs while appends arrive.
        using var stop = new CancellationTokenSource();
        var running = daemon.RunAsync(stop.Token);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 300; i++)
                await store.AppendQuickAsync($"totals-w{w}-{i % 7}", "thing", [new ThingHappened(i, $"w{w}")], EventMetadata.None);
        })));
        await WaitUntilAsync(async () => await db.ScalarAsync("select coalesce(sum(events), 0) from thing_totals") == 1200);
        stop.Cancel();
        await running;
        var incremental = await SnapshotAsync();

        await daemon.RebuildAsync("thing_totals");
        var rebuilt = await SnapshotAsync();

        incremental.Count.ShouldBe(4);
        rebuilt.ShouldBe(incremental);
        (await daemon.CheckpointOfAsync("thing_totals")).ShouldNotBe(GlobalPosition.Start);
    }

    private async Task<List<string>> SnapshotAsync()
    {
        await using var cmd = db.DataSource.CreateCommand("select writer || ':' || events || ':' || number_sum from thing_totals order by writer");
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
            rows.Add(reader.GetString(0));
        return rows;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 400 && !await condition(); i++)
            await Task.Delay(25);
        (await condition()).ShouldBeTrue();
    }

    private sealed class ThingTotals : IAsyncProjection
    {
        public string Name => "thing_totals";

        public async Task ApplyAsync(IReadOnlyList<StoredEvent> events, NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
        {
            foreach (var e in events)
            {
                if (e.Data is not ThingHappened thing)
                    continue;
                await using var cmd = new NpgsqlCommand("""
                    insert into thing_totals (writer, events, number_sum) values ($1, 1, $2)
                    on conflict (writer) do update set events = thing_totals.events + 1, number_sum = thing_totals.number_sum + $2
                    """, conn, tx);
                cmd.Parameters.AddWithValue(thing.Writer);
                cmd.Parameters.AddWithValue((long)thing.Number);
                await cmd.ExecuteNonQueryAsync(ct);
            }
        }

        public async Task ResetAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
        {
            await using var cmd = new NpgsqlCommand("delete from thing_totals", conn, tx);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }
}
