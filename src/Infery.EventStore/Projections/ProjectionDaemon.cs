using System.Globalization;
using Npgsql;

namespace Infery.EventStore.Projections;

/// <summary>
/// Keeps async projections up to date: woken by NOTIFY after each commit and by a poll, it reads events
/// in global order past each projection's checkpoint and applies them in batches. Several instances may
/// run at once; the checkpoint row lock lets only one apply a given projection at a time.
/// </summary>
public sealed class ProjectionDaemon(
    NpgsqlDataSource dataSource,
    EventStore store,
    IReadOnlyList<IAsyncProjection> projections,
    TimeSpan? pollInterval = null,
    int batchSize = 500,
    Action<Exception>? onError = null)
{
    private readonly TimeSpan poll = pollInterval ?? TimeSpan.FromMilliseconds(250);

    public IReadOnlyList<IAsyncProjection> Projections => projections;

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var listener = await dataSource.OpenConnectionAsync(ct);
                await using (var listen = new NpgsqlCommand($"listen \"{store.Options.NotifyChannel}\"", listener))
                    await listen.ExecuteNonQueryAsync(ct);
                while (!ct.IsCancellationRequested)
                {
                    await CatchUpAsync(ct);
                    await listener.WaitAsync(poll, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A failed batch rolled back with its checkpoint: report it, wait a poll interval, try again.
                onError?.Invoke(e);
                await Task.Delay(poll, ct).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }

    /// <summary>Applies everything below the horizon now visible; returns how many events were applied.</summary>
    public async Task<int> CatchUpAsync(CancellationToken ct = default)
    {
        var total = 0;
        foreach (var projection in projections)
        {
            int applied;
            do
            {
                applied = await ApplyNextBatchAsync(projection, ct);
                total += applied;
            }
            while (applied > 0);
        }
        return total;
    }

    /// <summary>Empties the read model and moves its checkpoint back to the start; the next catch-up rebuilds it.</summary>
    public async Task RebuildAsync(string name, CancellationToken ct = default)
    {
        var projection = projections.Single(p => p.Name == name);
        await using (var conn = await dataSource.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await LockCheckpointAsync(projection, conn, tx, ct);
            await projection.ResetAsync(conn, tx, ct);
            await SaveCheckpointAsync(projection, GlobalPosition.Start, conn, tx, ct);
            await tx.CommitAsync(ct);
        }
        while (await ApplyNextBatchAsync(projection, ct) > 0) { }
    }

    public async Task<GlobalPosition> CheckpointOfAsync(string name, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("select tx_id::text, seq from projection_checkpoints where name = $1", conn);
        cmd.Parameters.AddWithValue(name);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new GlobalPosition(ulong.Parse(reader.GetString(0), CultureInfo.InvariantCulture), reader.GetInt64(1))
            : GlobalPosition.Start;
    }

    private async Task<int> ApplyNextBatchAsync(IAsyncProjection projection, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var checkpoint = await LockCheckpointAsync(projection, conn, tx, ct);
        var events = await store.ReadAllAsync(conn, tx, checkpoint, batchSize, ct);
        if (events.Count == 0)
            return 0;
        await projection.ApplyAsync(events, conn, tx, ct);
        await SaveCheckpointAsync(projection, events[^1].Position, conn, tx, ct);
        await tx.CommitAsync(ct);
        return events.Count;
    }

    private static async Task<GlobalPosition> LockCheckpointAsync(IAsyncProjection projection, NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            insert into projection_checkpoints (name, tx_id, seq) values (@name, '0'::xid8, 0) on conflict (name) do nothing;
            select tx_id::text, seq from projection_checkpoints where name = @name for update
            """, conn, tx);
        cmd.Parameters.AddWithValue("name", projection.Name);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new GlobalPosition(ulong.Parse(reader.GetString(0), CultureInfo.InvariantCulture), reader.GetInt64(1));
    }

    private static async Task SaveCheckpointAsync(IAsyncProjection projection, GlobalPosition position, NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "update projection_checkpoints set tx_id = $2::text::xid8, seq = $3, updated_at = now() where name = $1", conn, tx);
        cmd.Parameters.AddWithValue(projection.Name);
        cmd.Parameters.AddWithValue(position.TxId.ToString(CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue(position.Seq);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
