using System.Text.Json.Nodes;
using Npgsql;

namespace Infery.Api.Tests.Fixtures;

/// <summary>Reads what the gateway recorded about a request straight from the events table.</summary>
public static class RequestEvents
{
    public const string FallbackFired = "request.fallback_fired.v1";
    public const string CreditsCharged = "credits.charged.v1";
    public const string RequestServed = "request.served.v1";
    public const string RequestFailed = "request.failed.v1";
    public const string UpstreamAttemptFailed = "request.upstream_attempt_failed.v1";

    public static async Task<int> CountAsync(string connectionString, string type, string requestId)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select count(*) from events where type = $1 and data->>'request_id' = $2", conn);
        cmd.Parameters.AddWithValue(type);
        cmd.Parameters.AddWithValue(requestId);
        return (int)(long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Each event's data, in order.</summary>
    public static async Task<List<JsonObject>> DataAsync(string connectionString, string type, string requestId)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select data::text from events where type = $1 and data->>'request_id' = $2 order by seq", conn);
        cmd.Parameters.AddWithValue(type);
        cmd.Parameters.AddWithValue(requestId);
        await using var reader = await cmd.ExecuteReaderAsync();
        var data = new List<JsonObject>();
        while (await reader.ReadAsync())
            data.Add(JsonNode.Parse(reader.GetString(0))!.AsObject());
        return data;
    }

    public static async Task<long> ChargedAsync(string connectionString, string requestId)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "select coalesce(sum((data->>'amount')::bigint), 0)::bigint from events where type = $1 and data->>'request_id' = $2", conn);
        cmd.Parameters.AddWithValue(CreditsCharged);
        cmd.Parameters.AddWithValue(requestId);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
