namespace Infery.EventStore.Tests;

public sealed class AppendTests(EventStoreFixture db) : IClassFixture<EventStoreFixture>
{
    [Fact]
    public async Task Appends_and_reads_back_a_stream_in_version_order()
    {
        await using var store = db.NewStore();
        var stream = $"thing-{Guid.NewGuid():N}";

        var first = await store.AppendAsync(stream, "thing", ExpectedVersion.NoStream,
            [new ThingHappened(1, "a"), new ThingHappened(2, "a")], new EventMetadata(RequestId: "req_1", WorkspaceId: "ws_1"));
        var second = await store.AppendAsync(stream, "thing", ExpectedVersion.Exactly(2), [new ThingHappened(3, "a")], EventMetadata.None);

        first.NextExpectedVersion.ShouldBe(2);
        second.NextExpectedVersion.ShouldBe(3);
        var events = await store.ReadStreamAsync(stream);
        events.Select(e => ((ThingHappened)e.Data).Number).ShouldBe([1, 2, 3]);
        events.Select(e => e.Version).ShouldBe([1L, 2L, 3L]);
        events[0].TypeName.ShouldBe("test.thing_happened.v1");
        events[0].Metadata.ShouldBe(new EventMetadata(RequestId: "req_1", WorkspaceId: "ws_1"));
    }

    [Fact]
    public async Task Fifty_concurrent_appends_at_the_same_version_through_one_writer_let_exactly_one_win()
    {
        await using var store = db.NewStore();
        await AssertExactlyOneWins([store]);
    }

    [Fact]
    public async Task Fifty_concurrent_appends_at_the_same_version_through_five_writers_let_exactly_one_win()
    {
        var stores = Enumerable.Range(0, 5).Select(_ => db.NewStore()).ToArray();
        try
        {
            await AssertExactlyOneWins(stores);
        }
        finally
        {
            foreach (var store in stores)
                await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task Quick_appends_from_many_callers_all_land_with_consecutive_versions()
    {
        await using var store = db.NewStore();
        var stream = $"quick-{Guid.NewGuid():N}";

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            store.AppendQuickAsync(stream, "thing", [new ThingHappened(i, "q")], EventMetadata.None)));

        var events = await store.ReadStreamAsync(stream);
        events.Select(e => e.Version).ShouldBe(Enumerable.Range(1, 200).Select(v => (long)v));
        events.Select(e => ((ThingHappened)e.Data).Number).Order().ShouldBe(Enumerable.Range(0, 200));
    }

    [Fact]
    public async Task Three_hundred_appends_waiting_together_land_in_commits_of_hundreds_every_one_of_them()
    {
        await using var store = db.NewStore();
        var marker = Guid.NewGuid().ToString("N");

        await AppendBehindAHeldCommitAsync(store, marker, appends: 300);

        (await db.ScalarAsync($"select count(*) from events where stream_id like 'many-{marker}-%'")).ShouldBe(300);
        (await db.ScalarAsync($"select max(n) from (select count(*) as n from events where stream_id like 'many-{marker}-%' group by tx_id) as commits"))
            .ShouldBeGreaterThan(100);
    }

    [Fact]
    public async Task Appends_past_one_commits_cap_all_land_in_the_commits_after_it()
    {
        await using var store = new EventStore(db.DataSource, EventStoreFixture.NewRegistry(), new EventStoreOptions { MaxAppendsPerCommit = 50 });
        var marker = Guid.NewGuid().ToString("N");

        await AppendBehindAHeldCommitAsync(store, marker, appends: 300);

        (await db.ScalarAsync($"select count(*) from events where stream_id like 'many-{marker}-%'")).ShouldBe(300);
        (await db.ScalarAsync($"select max(n) from (select count(*) as n from events where stream_id like 'many-{marker}-%' group by tx_id) as commits"))
            .ShouldBe(50, "the queue was longer than one commit takes");
    }

    /// <summary>The first append's commit is held for a second, so that the others queue behind it and go together.</summary>
    private async Task AppendBehindAHeldCommitAsync(EventStore store, string marker, int appends)
    {
        await db.ExecuteAsync($"""
            create or replace function hold_commit() returns trigger language plpgsql as
              $$ begin perform pg_sleep(1); return null; end $$;
            create constraint trigger hold_{marker} after insert on events deferrable initially deferred for each row
              when (new.stream_id = 'held-{marker}') execute function hold_commit();
            """);
        try
        {
            var held = store.AppendOnceAsync($"held-{marker}", [new ThingHappened(0, "held")], EventMetadata.None);
            await Task.Delay(TimeSpan.FromMilliseconds(100));
            var waiting = Enumerable.Range(1, appends)
                .Select(i => store.AppendOnceAsync($"many-{marker}-{i}", [new ThingHappened(i, "waiting")], EventMetadata.None))
                .ToArray();
            await held;
            await Task.WhenAll(waiting);
        }
        finally
        {
            await db.ExecuteAsync($"drop trigger hold_{marker} on events");
        }
    }

    [Fact]
    public async Task A_stale_expected_version_is_a_typed_concurrency_error_and_writes_nothing()
    {
        await using var store = db.NewStore();
        var stream = $"stale-{Guid.NewGuid():N}";
        await store.AppendAsync(stream, "thing", ExpectedVersion.NoStream, [new ThingHappened(1, "a")], EventMetadata.None);

        var error = await Should.ThrowAsync<ConcurrencyException>(() =>
            store.AppendAsync(stream, "thing", ExpectedVersion.NoStream, [new ThingHappened(2, "b")], EventMetadata.None));

        error.Actual.ShouldBe(1);
        (await store.ReadStreamAsync(stream)).Count.ShouldBe(1);
    }

    [Fact]
    public async Task A_new_stream_append_to_a_stream_that_exists_fails_alone_in_its_batch()
    {
        await using var store = db.NewStore();
        var taken = $"taken-{Guid.NewGuid():N}";
        await store.AppendAsync(taken, "thing", ExpectedVersion.NoStream, [new ThingHappened(0, "first")], EventMetadata.None);

        var appends = Enumerable.Range(0, 30).Select(i => store.AppendAsync(
            i == 7 ? taken : $"fresh-{Guid.NewGuid():N}", "thing", ExpectedVersion.NoStream, [new ThingHappened(i, "batch")], EventMetadata.None)).ToArray();
        await Task.WhenAll(appends.Select(a => a.ContinueWith(_ => { })));

        appends[7].Exception!.InnerException.ShouldBeOfType<ConcurrencyException>().Actual.ShouldBe(1);
        appends.Where((_, i) => i != 7).ShouldAllBe(a => a.IsCompletedSuccessfully);
        (await store.ReadStreamAsync(taken)).Count.ShouldBe(1);
    }

    [Fact]
    public async Task A_stream_written_once_keeps_no_stream_row_and_refuses_a_second_writer_of_any_kind()
    {
        await using var store = db.NewStore();
        var once = $"once-{Guid.NewGuid():N}";
        await store.AppendOnceAsync(once, [new ThingHappened(1, "served"), new ThingHappened(2, "charged")], new EventMetadata(WorkspaceId: "ws_1"));

        (await db.ScalarAsync($"select count(*) from streams where id = '{once}'")).ShouldBe(0);
        (await store.ReadStreamAsync(once)).Select(e => e.Version).ShouldBe([1L, 2L]);

        (await Should.ThrowAsync<ConcurrencyException>(() =>
            store.AppendOnceAsync(once, [new ThingHappened(3, "again")], EventMetadata.None))).Actual.ShouldBe(2);
        (await Should.ThrowAsync<ConcurrencyException>(() =>
            store.AppendAsync(once, "thing", ExpectedVersion.NoStream, [new ThingHappened(4, "normal")], EventMetadata.None))).Actual.ShouldBe(2);
        await Should.ThrowAsync<ConcurrencyException>(() =>
            store.AppendQuickAsync(once, "thing", [new ThingHappened(5, "quick")], EventMetadata.None));
        (await store.ReadStreamAsync(once)).Count.ShouldBe(2);
    }

    [Fact]
    public async Task Twenty_concurrent_writers_of_the_same_once_written_stream_let_exactly_one_win()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => db.NewStore()).ToArray();
        try
        {
            var stream = $"once-race-{Guid.NewGuid():N}";
            var attempts = Enumerable.Range(0, 20).Select(i =>
                stores[i % stores.Length].AppendOnceAsync(stream, [new ThingHappened(i, "race")], EventMetadata.None)).ToArray();
            await Task.WhenAll(attempts.Select(a => a.ContinueWith(_ => { })));

            attempts.Count(a => a.IsCompletedSuccessfully).ShouldBe(1);
            attempts.Where(a => !a.IsCompletedSuccessfully)
                .ShouldAllBe(a => a.Exception!.InnerException is ConcurrencyException);
            (await stores[0].ReadStreamAsync(stream)).Count.ShouldBe(1);
        }
        finally
        {
            foreach (var store in stores)
                await store.DisposeAsync();
        }
    }

    private async Task AssertExactlyOneWins(EventStore[] stores)
    {
        var stream = $"race-{Guid.NewGuid():N}";
        await stores[0].AppendAsync(stream, "thing", ExpectedVersion.NoStream, [new ThingHappened(0, "setup")], EventMetadata.None);

        var attempts = Enumerable.Range(0, 50).Select(async i =>
        {
            try
            {
                await stores[i % stores.Length].AppendAsync(stream, "thing", ExpectedVersion.Exactly(1),
                    [new ThingHappened(i, $"w{i}")], EventMetadata.None);
                return (Won: true, Writer: i);
            }
            catch (ConcurrencyException)
            {
                return (Won: false, Writer: i);
            }
        }).ToArray();
        var results = await Task.WhenAll(attempts);

        var winners = results.Where(r => r.Won).ToArray();
        winners.Length.ShouldBe(1);
        var events = await stores[0].ReadStreamAsync(stream);
        events.Count.ShouldBe(2);
        ((ThingHappened)events[1].Data).Number.ShouldBe(winners[0].Writer);
    }
}
