using Npgsql;

namespace Infery.Api.Tests.Fixtures;

/// <summary>Reads what the event log and the balances projection say, straight from the database.</summary>
public sealed class Ledger(string connectionString)
{
    public async Task<long> ScalarAsync(string sql, params object[] parameters)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var p in parameters)
            cmd.Parameters.AddWithValue(p);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync() ?? 0L);
    }

    /// <summary>Every CreditsCharged event of a workspace: request id → amount in micro-credits.</summary>
    public async Task<List<(string RequestId, long Amount)>> ChargesAsync(string workspaceId)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "select data->>'request_id', (data->>'amount')::bigint from events where type = 'credits.charged.v1' and workspace_id = $1", conn);
        cmd.Parameters.AddWithValue(workspaceId);
        await using var reader = await cmd.ExecuteReaderAsync();
        var charges = new List<(string, long)>();
        while (await reader.ReadAsync())
            charges.Add((reader.GetString(0), reader.GetInt64(1)));
        return charges;
    }

    public async Task<string> KeyIdAsync(string plaintextKey)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select id from api_keys where hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')", conn);
        cmd.Parameters.AddWithValue(plaintextKey);
        return await cmd.ExecuteScalarAsync() as string ?? throw new InvalidOperationException("no such key");
    }

    public Task<long> BalanceAsync(string workspaceId) =>
        ScalarAsync("select coalesce((select balance from workspace_balances where workspace_id = $1), 0)", workspaceId);

    public Task<long> TotalChargedAsync(string workspaceId) =>
        ScalarAsync("select coalesce((select total_charged from workspace_balances where workspace_id = $1), 0)", workspaceId);

    public Task<long> CountAsync(string eventType, string requestId) =>
        ScalarAsync("select count(*) from events where type = $1 and data->>'request_id' = $2", eventType, requestId);
}
