using System.Threading.Channels;
using Npgsql;

namespace Infery.EventStore;

internal sealed class PendingAppend(
    string streamId, string? streamType, ExpectedVersion expected, IReadOnlyList<object> events, EventMetadata metadata)
{
    public string StreamId { get; } = streamId;

    /// <summary>Null for a stream written once that keeps no row in <c>streams</c>.</summary>
    public string? StreamType { get; } = streamType;
    public ExpectedVersion Expected { get; } = expected;
    public IReadOnlyList<object> Events { get; } = events;
    public EventMetadata Metadata { get; } = metadata;
    public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// One writer drains the queue of pending appends and writes as many as are waiting in one transaction:
/// lock the streams, check versions, insert streams and events, run inline projections, commit once.
/// Only then is each caller completed. A failed commit fails every caller of that batch.
/// </summary>
internal sealed class GroupCommitWriter : IAsyncDisposable
{
    private readonly NpgsqlDataSource dataSource;
    private readonly EventTypeRegistry registry;
    private readonly EventStoreOptions options;
    private readonly Channel<PendingAppend> queue;
    private readonly Task loop;
    private readonly NotifyThrottle notifications;

    public GroupCommitWriter(NpgsqlDataSource dataSource, EventTypeRegistry registry, EventStoreOptions options)
    {
        this.dataSource = dataSource;
        this.registry = registry;
        this.options = options;
        notifications = new NotifyThrottle(options.NotifyInterval, options.Clock);
        queue = Channel.CreateBounded<PendingAppend>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        loop = Task.Run(RunAsync);
    }

    public async Task<AppendResult> EnqueueAsync(PendingAppend append, CancellationToken ct)
    {
        if (append.Events.Count == 0)
            throw new ArgumentException("an append needs at least one event", nameof(append));
        await queue.Writer.WriteAsync(append, ct);
        return await append.Completion.Task;
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await loop;
        if (connection is not null)
            await connection.DisposeAsync();
    }

    private async Task RunAsync()
    {
        var batch = new List<PendingAppend>(options.MaxAppendsPerCommit);
        while (await queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < options.MaxAppendsPerCommit && queue.Reader.TryRead(out var append))
                batch.Add(append);
            await CommitAsync(batch);
        }
    }

    private async Task CommitAsync(List<PendingAppend> batch)
    {
        try
        {
            var outcomes = await WriteAsync(batch);
            for (var i = 0; i < batch.Count; i++)
                Complete(batch[i], outcomes[i]);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && batch.Count > 1)
        {
            // Another process created one of these streams at the same moment. Write each append on its own
            // so only the one that collided fails.
            foreach (var append in batch)
                await CommitAsync([append]);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            var append = batch[0];
            append.Completion.TrySetException(new ConcurrencyException(append.StreamId, append.Expected, await CurrentVersionAsync(append.StreamId)));
        }
        catch (Exception e)
        {
            foreach (var append in batch)
                append.Completion.TrySetException(e);
        }
    }

    private async Task<long?> CurrentVersionAsync(string streamId)
    {
        try
        {
            // A stream written once keeps no row in streams; its events tell its version.
            await using var cmd = dataSource.CreateCommand(
                "select coalesce((select version from streams where id = $1), (select max(version) from events where stream_id = $1))");
            cmd.Parameters.AddWithValue(streamId);
            return await cmd.ExecuteScalarAsync() as long?;
        }
        catch (NpgsqlException)
        {
            return null;
        }
    }

    private static void Complete(PendingAppend append, object outcome)
    {
        if (outcome is AppendResult result)
            append.Completion.TrySetResult(result);
        else
            append.Completion.TrySetException((Exception)outcome);
    }

    /// <summary>
    /// The writer's own connection, kept open between batches: no pool checkout per commit. After a failure it
    /// is rolled back, or thrown away if it broke, and the next batch opens a fresh one.
    /// </summary>
    private NpgsqlConnection? connection;

    private async Task<NpgsqlConnection> ConnectionAsync()
    {
        if (connection is { State: System.Data.ConnectionState.Open })
            return connection;
        if (connection is not null)
            await connection.DisposeAsync();
        connection = await dataSource.OpenConnectionAsync();
        return connection;
    }

    /// <returns>Per append, in order: an <see cref="AppendResult"/> or the exception to fail it with.</returns>
    private async Task<object[]> WriteAsync(List<PendingAppend> batch)
    {
        var conn = await ConnectionAsync();
        try
        {
            return await WriteAsync(conn, batch);
        }
        catch
        {
            // Whatever failed, no transaction may stay open on the connection the next batch uses.
            if (conn.State == System.Data.ConnectionState.Open)
            {
                try
                {
                    await using var rollback = new NpgsqlCommand("rollback", conn);
                    await rollback.ExecuteNonQueryAsync();
                }
                catch (NpgsqlException)
                {
                    await conn.DisposeAsync();
                }
            }
            throw;
        }
    }

    /// <summary>
    /// The writes, inline projections and NOTIFY go in one round-trip; a batch that must check the versions of
    /// existing streams takes one more, first, to BEGIN and lock them, and ends with COMMIT. A batch with
    /// nothing to lock needs neither: PostgreSQL runs the statements before one Sync as a single implicit
    /// transaction, all or nothing, committed at the Sync. That saves two statements per commit.
    /// </summary>
    private async Task<object[]> WriteAsync(NpgsqlConnection conn, List<PendingAppend> batch)
    {
        // New streams (one per request, say) have nothing to lock: a stream that exists after all makes the
        // insert of its version 1 collide, and the collision fails that append alone.
        var needsLocks = !batch.TrueForAll(a => a.Expected == ExpectedVersion.NoStream);
        var versions = needsLocks
            ? await LockStreamsAsync(conn, batch)
            : new Dictionary<string, long>(StringComparer.Ordinal);

        var outcomes = new object[batch.Count];
        var envelopes = new List<EventEnvelope>();
        var streams = new Dictionary<string, (string Type, string? Workspace)>();
        var now = options.Clock.GetUtcNow();
        for (var i = 0; i < batch.Count; i++)
        {
            var append = batch[i];
            var current = versions.GetValueOrDefault(append.StreamId);
            if (!append.Expected.IsAny && append.Expected.Value != current)
            {
                outcomes[i] = new ConcurrencyException(append.StreamId, append.Expected, current);
                continue;
            }
            foreach (var data in append.Events)
                envelopes.Add(new EventEnvelope(append.StreamId, ++current, registry.NameOf(data.GetType()), data, append.Metadata, now));
            versions[append.StreamId] = current;
            if (append.StreamType is not null)
                streams.TryAdd(append.StreamId, (append.StreamType, append.Metadata.WorkspaceId));
            outcomes[i] = new AppendResult(current);
        }

        await using var write = new NpgsqlBatch(conn);
        if (envelopes.Count > 0)
        {
            if (streams.Count > 0)
                AddStreamUpserts(write, streams, versions);
            AddEventInserts(write, envelopes, now);
            foreach (var projection in options.InlineProjections)
                projection.Project(envelopes, write);
            if (notifications.ShouldNotify(options.Clock.GetTimestamp()))
                write.Add("select pg_notify($1, '')", options.NotifyChannel);
        }
        if (needsLocks)
            write.Add("commit");
        await write.ExecuteNonQueryAsync();
        return outcomes;
    }

    private static async Task<Dictionary<string, long>> LockStreamsAsync(NpgsqlConnection conn, List<PendingAppend> batch)
    {
        var ids = new string[batch.Count];
        for (var i = 0; i < batch.Count; i++)
            ids[i] = batch[i].StreamId;

        // Sorted, so two writers locking overlapping streams always take the locks in the same order.
        await using var lockStreams = new NpgsqlBatch(conn);
        lockStreams.Add("begin");
        lockStreams.Add("select id, version from streams where id = any($1) order by id for update", (object)ids);
        var versions = new Dictionary<string, long>(batch.Count, StringComparer.Ordinal);
        await using var reader = await lockStreams.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            versions[reader.GetString(0)] = reader.GetInt64(1);
        return versions;
    }

    private static void AddStreamUpserts(NpgsqlBatch write, Dictionary<string, (string Type, string? Workspace)> streams, Dictionary<string, long> versions)
    {
        var ids = new string[streams.Count];
        var types = new string[streams.Count];
        var workspaces = new string?[streams.Count];
        var newVersions = new long[streams.Count];
        var i = 0;
        foreach (var (id, (type, workspace)) in streams)
        {
            ids[i] = id;
            types[i] = type;
            workspaces[i] = workspace;
            newVersions[i] = versions[id];
            i++;
        }
        write.Add("""
            insert into streams (id, type, version, workspace_id)
            select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
            on conflict (id) do update set version = excluded.version
            """, ids, types, newVersions, workspaces);
    }

    private void AddEventInserts(NpgsqlBatch write, List<EventEnvelope> envelopes, DateTimeOffset now)
    {
        var streamIds = new string[envelopes.Count];
        var eventVersions = new long[envelopes.Count];
        var types = new string[envelopes.Count];
        var data = new byte[envelopes.Count][];
        var metadata = new byte[envelopes.Count][];
        var workspaces = new string?[envelopes.Count];
        for (var i = 0; i < envelopes.Count; i++)
        {
            var e = envelopes[i];
            streamIds[i] = e.StreamId;
            eventVersions[i] = e.Version;
            types[i] = e.TypeName;
            data[i] = registry.SerializeToUtf8(e.Data);
            // The events of one append share their metadata: serialize it once.
            metadata[i] = i > 0 && ReferenceEquals(e.Metadata, envelopes[i - 1].Metadata)
                ? metadata[i - 1]
                : registry.SerializeMetadataToUtf8(e.Metadata);
            workspaces[i] = e.Metadata.WorkspaceId;
        }
        write.Add("""
            insert into events (stream_id, version, type, data, metadata, workspace_id, created_at)
            select s, v, t, d, m, w, $7
            from unnest($1::text[], $2::bigint[], $3::text[], $4::jsonb[], $5::jsonb[], $6::text[]) with ordinality as u(s, v, t, d, m, w, n)
            order by n
            """, streamIds, eventVersions, types, BatchExtensions.Jsonb(data), BatchExtensions.Jsonb(metadata), workspaces, now);
    }
}
