using Npgsql;

namespace Infery.Projections.Workspaces;

public sealed record WorkspaceRow(string Id, string Name, long? StorageLimitBytes, long StorageUsedBytes, DateTimeOffset CreatedAt);

public sealed record BalanceRow(long Balance, long TotalGranted, long TotalCharged, long TotalRefunded);

public static class WorkspaceQueries
{
    public static async Task<WorkspaceRow?> FindAsync(NpgsqlDataSource db, string id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("select id, name, storage_limit_bytes, storage_used_bytes, created_at from workspaces where id = $1");
        cmd.Parameters.AddWithValue(id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        return new WorkspaceRow(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2),
            reader.GetInt64(3), reader.GetFieldValue<DateTimeOffset>(4));
    }

    public static async Task<BalanceRow> BalanceAsync(NpgsqlDataSource db, string workspaceId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "select balance, total_granted, total_charged, total_refunded from workspace_balances where workspace_id = $1");
        cmd.Parameters.AddWithValue(workspaceId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new BalanceRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : new BalanceRow(0, 0, 0, 0);
    }
}
