using Npgsql;

namespace Infery.EventStore.Tests;

public sealed class GlobalOrderTests(EventStoreFixture db) : IClassFixture<EventStoreFixture>
{
    [Fact]
    public async Task An_event_committed_late_with_a_lower_sequence_number_is_waited_for_not_skipped()
    {
        await using var store = db.NewStore();
        var start = await EndOfLogAsync(store);

        // Transaction A takes a sequence number and stays open; B takes a higher one and commits first.
        await using var slowConn = await db.DataSource.OpenConnectionAsync();
        await using var slow = await slowConn.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            "insert into events (stream_id, version, type, data, metadata, created_at) values ('late', 1, 'test.thing_happened.v1', '{\"number\":1,\"writer\":\"late\"}', '{}', now())",
            slowConn, slow))
            await insert.ExecuteNonQueryAsync();
        await store.AppendQuickAsync($"early-{Guid.NewGuid():N}", "thing", [new ThingHappened(2, "early")], EventMetadata.None);

        (await store.ReadAllAsync(start, 100)).ShouldBeEmpty("the open transaction holds the horizon back");

        await slow.CommitAsync();
        // The horizon is cluster-wide: transactions of other tests' databases may hold it back a moment longer.
        var events = await store.ReadAllAsync(start, 100);
        for (var wait = 0; events.Count < 2 && wait < 200; wait++)
        {
            await Task.Delay(25);
            events = await store.ReadAllAsync(start, 100);
        }
        events.Select(e => ((ThingHappened)e.Data).Writer).ShouldBe(["late", "early"]);
    }

    [Fact]
    public async Task A_reader_running_beside_eight_writers_and_a_long_transaction_sees_all_20000_events_once_in_order()
    {
        const int writers = 8, perWriter = 2_500, total = writers * perWriter;
        var holdOnce = new HoldTransactionOnce(TimeSpan.FromSeconds(3));
        var stores = Enumerable.Range(0, writers)
            .Select(i => i == 3 ? db.NewStore(holdOnce) : db.NewStore())
            .ToArray();
        var start = await EndOfLogAsync(stores[0]);
        var runId = Guid.NewGuid().ToString("N")[..8];

        using var writing = new CancellationTokenSource();
        var seen = new List<StoredEvent>();
        var reader = Task.Run(async () =>
        {
            var position = start;
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (seen.Count(e => e.StreamId.StartsWith(runId)) < total && DateTime.UtcNow < deadline)
            {
                var page = await stores[0].ReadAllAsync(position, 1_000);
                if (page.Count == 0)
                {
                    await Task.Delay(20);
                    continue;
                }
                seen.AddRange(page);
                position = page[^1].Position;
            }
        });

        var appends = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter; i += 5)
            {
                var batch = Enumerable.Range(i, 5).Select(n => (object)new ThingHappened(n, $"w{w}")).ToArray();
                if (w == 3 && i == perWriter / 2)
                    holdOnce.Arm();
                await stores[w].AppendQuickAsync($"{runId}-w{w}-{i / 50}", "thing", batch, EventMetadata.None);
            }
        })).ToArray();
        await Task.WhenAll(appends);
        await reader;
        foreach (var store in stores)
            await store.DisposeAsync();

        holdOnce.Held.ShouldBeTrue();
        var ours = seen.Where(e => e.StreamId.StartsWith(runId)).ToList();
        ours.Count.ShouldBe(total);
        ours.Select(e => (e.StreamId, e.Version)).Distinct().Count().ShouldBe(total, "no event twice");
        seen.Select(e => e.Position).ShouldBe(seen.Select(e => e.Position).Order(), "positions only move forward");
        for (var w = 0; w < writers; w++)
        {
            var numbers = ours.Where(e => ((ThingHappened)e.Data).Writer == $"w{w}").Select(e => ((ThingHappened)e.Data).Number).ToList();
            numbers.ShouldBe(Enumerable.Range(0, perWriter), $"writer w{w}'s events in the order it appended them");
        }
    }

    private static async Task<GlobalPosition> EndOfLogAsync(EventStore store)
    {
        var position = GlobalPosition.Start;
        while (true)
        {
            var page = await store.ReadAllAsync(position, 10_000);
            if (page.Count == 0)
                return position;
            position = page[^1].Position;
        }
    }

    /// <summary>Once armed, keeps the next write transaction open for a while after its events are inserted.</summary>
    private sealed class HoldTransactionOnce(TimeSpan hold) : IInlineProjection
    {
        private int armed;

        public bool Held { get; private set; }

        public void Arm() => Interlocked.Exchange(ref armed, 1);

        public void Project(IReadOnlyList<EventEnvelope> events, NpgsqlBatch batch)
        {
            if (Interlocked.Exchange(ref armed, 0) == 1)
            {
                batch.Add($"select pg_sleep({hold.TotalSeconds})");
                Held = true;
            }
        }
    }
}
