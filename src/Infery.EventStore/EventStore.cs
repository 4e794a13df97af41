using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace Infery.EventStore;

/// <summary>
/// Appends go through one group-commit writer; reads go straight to the database.
/// An append's task completes only once its events are committed.
/// </summary>
public sealed class EventStore : IAsyncDisposable
{
    private readonly NpgsqlDataSource dataSource;
    private readonly GroupCommitWriter writer;

    public EventStore(NpgsqlDataSource dataSource, EventTypeRegistry registry, EventStoreOptions? options = null)
    {
        this.dataSource = dataSource;
        Registry = registry;
        Options = options ?? new EventStoreOptions();
        writer = new GroupCommitWriter(dataSource, registry, Options);
    }

    public EventTypeRegistry Registry { get; }

    public EventStoreOptions Options { get; }

    public Task<AppendResult> AppendAsync(
        string streamId, string streamType, ExpectedVersion expected, IReadOnlyList<object> events,
        EventMetadata metadata, CancellationToken ct = default) =>
        writer.EnqueueAsync(new PendingAppend(streamId, streamType, expected, events, metadata), ct);

    /// <summary>Appends without a concurrency check, e.g. to a stream that belongs to one request.</summary>
    public Task<AppendResult> AppendQuickAsync(
        string streamId, string streamType, IReadOnlyList<object> events, EventMetadata metadata, CancellationToken ct = default) =>
        AppendAsync(streamId, streamType, ExpectedVersion.Any, events, metadata, ct);

    /// <summary>
    /// Writes a stream in one append that is never appended to again, such as the record of one request. It keeps
    /// no row in <c>streams</c>, one insert less per commit; the events' unique (stream, version) still refuses
    /// a second writer of the same stream, and any later append to it fails with a concurrency error.
    /// </summary>
    public Task<AppendResult> AppendOnceAsync(
        string streamId, IReadOnlyList<object> events, EventMetadata metadata, CancellationToken ct = default) =>
        writer.EnqueueAsync(new PendingAppend(streamId, null, ExpectedVersion.NoStream, events, metadata), ct);

    public async Task<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion = 1, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand(
            $"{SelectColumns} where stream_id = $1 and version >= $2 order by version", conn);
        cmd.Parameters.AddWithValue(streamId);
        cmd.Parameters.AddWithValue(fromVersion);
        return await ReadEventsAsync(cmd, ct);
    }

    /// <summary>
    /// Events after <paramref name="after"/> in global order, up to the oldest transaction still running:
    /// a sequence number taken by a transaction that commits later is never skipped, only waited for.
    /// </summary>
    public async Task<IReadOnlyList<StoredEvent>> ReadAllAsync(GlobalPosition after, int maxCount, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await ReadAllAsync(conn, null, after, maxCount, ct);
    }

    public async Task<IReadOnlyList<StoredEvent>> ReadAllAsync(
        NpgsqlConnection conn, NpgsqlTransaction? tx, GlobalPosition after, int maxCount, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"""
             {SelectColumns}
             where (tx_id, seq) > ($1::text::xid8, $2)
               and tx_id < pg_snapshot_xmin(pg_current_snapshot())
             order by events.tx_id, events.seq
             limit $3
             """, conn, tx);
        cmd.Parameters.AddWithValue(after.TxId.ToString(CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue(after.Seq);
        cmd.Parameters.AddWithValue(maxCount);
        return await ReadEventsAsync(cmd, ct);
    }

    public ValueTask DisposeAsync() => writer.DisposeAsync();

    private const string SelectColumns =
        "select seq, tx_id::text as tx_id_text, stream_id, version, type, data::text, metadata::text, created_at from events";

    private async Task<IReadOnlyList<StoredEvent>> ReadEventsAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        var events = new List<StoredEvent>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var type = reader.GetString(4);
            events.Add(new StoredEvent(
                new GlobalPosition(ulong.Parse(reader.GetString(1), CultureInfo.InvariantCulture), reader.GetInt64(0)),
                reader.GetString(2),
                reader.GetInt64(3),
                type,
                Registry.Deserialize(type, reader.GetString(5)),
                Registry.DeserializeMetadata(reader.GetString(6)),
                reader.GetFieldValue<DateTimeOffset>(7)));
        }
        return events;
    }
}

/// <summary>Adds a positional-parameter command to a batch; inline projections use it too.</summary>
public static class BatchExtensions
{
    public static NpgsqlBatchCommand Add(this NpgsqlBatch batch, string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(parameter as NpgsqlParameter ?? new NpgsqlParameter { Value = parameter });
        batch.BatchCommands.Add(command);
        return command;
    }

    /// <summary>A <c>jsonb[]</c> parameter from UTF-8 JSON documents.</summary>
    public static NpgsqlParameter Jsonb(byte[][] values) =>
        new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb };
}
