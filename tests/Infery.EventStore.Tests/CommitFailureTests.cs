using Npgsql;

namespace Infery.EventStore.Tests;

/// <summary>A caller is told its append succeeded only after the commit; a batch that dies takes nobody's events with it silently.</summary>
public sealed class CommitFailureTests(EventStoreFixture db) : IClassFixture<EventStoreFixture>
{
    [Fact]
    public async Task When_the_database_process_dies_before_commit_no_caller_of_the_batch_is_told_it_succeeded()
    {
        await using var store = db.NewStore(new OnPoison("select pg_terminate_backend(pg_backend_pid())"));

        await AssertOnlyDurableAppendsSucceededAsync(store, expectedFailure: e => e is NpgsqlException);
    }

    [Fact]
    public async Task When_the_commit_itself_fails_no_caller_of_the_batch_is_told_it_succeeded()
    {
        await using var store = db.NewStore(new OnPoison(await FailsAtCommitAsync()));

        await AssertOnlyDurableAppendsSucceededAsync(store, expectedFailure: e => e is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation });
    }

    // Streams written once are batched without BEGIN and COMMIT: the same guarantees must hold.
    [Fact]
    public async Task When_the_database_process_dies_in_a_batch_of_once_written_streams_no_caller_is_told_it_succeeded()
    {
        await using var store = db.NewStore(new OnPoison("select pg_terminate_backend(pg_backend_pid())"));

        await AssertOnlyDurableAppendsSucceededAsync(store, expectedFailure: e => e is NpgsqlException, once: true);
    }

    [Fact]
    public async Task When_the_commit_of_a_batch_of_once_written_streams_fails_no_caller_is_told_it_succeeded()
    {
        await using var store = db.NewStore(new OnPoison(await FailsAtCommitAsync()));

        await AssertOnlyDurableAppendsSucceededAsync(store, expectedFailure: e => e is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation }, once: true);
    }

    [Fact]
    public async Task A_statement_failing_after_the_inserts_of_a_batch_of_once_written_streams_takes_them_all_back()
    {
        await using var store = db.NewStore(new OnPoison("select 1 / 0"));

        await AssertOnlyDurableAppendsSucceededAsync(store, expectedFailure: e => e is PostgresException { SqlState: PostgresErrorCodes.DivisionByZero }, once: true);
    }

    /// <summary>
    /// A statement that succeeds but breaks a deferred foreign key, which is checked only at COMMIT: the failure
    /// happens in the commit itself.
    /// </summary>
    private async Task<string> FailsAtCommitAsync()
    {
        await db.ExecuteAsync("""
            create table if not exists commit_guard_parent (id int primary key);
            create table if not exists commit_guard (id int primary key,
                parent int not null references commit_guard_parent (id) deferrable initially deferred);
            """);
        return "insert into commit_guard (id, parent) values ((random() * 1e9)::int, -1)";
    }

    /// <summary>
    /// Queues forty appends at once, one poisoned, so that several share its batch. Every caller told
    /// "appended" must find its event stored; every caller told "failed" must find nothing.
    /// </summary>
    private async Task AssertOnlyDurableAppendsSucceededAsync(EventStore store, Func<Exception, bool> expectedFailure, bool once = false)
    {
        var prefix = $"batch-{Guid.NewGuid():N}";
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
        {
            var stream = $"{prefix}-{i}";
            object[] events = i == 5 ? [new Poison("boom")] : [new ThingHappened(i, "batch")];
            return Catch(once
                ? store.AppendOnceAsync(stream, events, EventMetadata.None)
                : store.AppendQuickAsync(stream, "thing", events, EventMetadata.None));
        }));

        outcomes[5].ShouldNotBeNull();
        expectedFailure(outcomes[5]!).ShouldBeTrue(outcomes[5]!.ToString());
        outcomes.Count(o => o != null).ShouldBeGreaterThan(1, "the poisoned append shared its batch with others");
        for (var i = 0; i < outcomes.Length; i++)
        {
            var stored = await db.ScalarAsync($"select count(*) from events where stream_id = '{prefix}-{i}'");
            stored.ShouldBe(outcomes[i] == null ? 1 : 0, $"append {i}: told {(outcomes[i] == null ? "appended" : "failed")}");
        }
        await AssertStoreStillWorksAsync(store);
    }

    private static async Task<Exception?> Catch(Task append)
    {
        try
        {
            await append;
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private async Task AssertStoreStillWorksAsync(EventStore store)
    {
        var stream = $"after-{Guid.NewGuid():N}";
        await store.AppendQuickAsync(stream, "thing", [new ThingHappened(1, "after")], EventMetadata.None);
        (await store.ReadStreamAsync(stream)).Count.ShouldBe(1);
    }

    /// <summary>Adds a failing statement to any batch that carries a Poison event.</summary>
    private sealed class OnPoison(string sql) : IInlineProjection
    {
        public void Project(IReadOnlyList<EventEnvelope> events, NpgsqlBatch batch)
        {
            if (events.Any(e => e.Data is Poison))
                batch.Add(sql);
        }
    }
}
