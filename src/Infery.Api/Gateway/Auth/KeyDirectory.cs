using System.Collections.Concurrent;
using System.Security.Cryptography;
using Npgsql;

namespace Infery.Api.Gateway.Auth;

/// <summary>A key as the gateway needs it on every request.</summary>
public sealed record KeyEntry(string KeyId, string WorkspaceId, string? MemberId, string Preset, int Rpm, byte[] Hash);

/// <summary>
/// The key directory, cached in memory: the first request with a key reads it from the database, later ones
/// cost nothing. A revocation anywhere reaches this cache through NOTIFY (<see cref="Forget"/>).
/// </summary>
public sealed class KeyDirectory(NpgsqlDataSource dataSource)
{
    private readonly ConcurrentDictionary<string, KeyEntry> byHash = new(StringComparer.Ordinal);

    public async ValueTask<KeyEntry?> FindAsync(string plaintextKey, CancellationToken ct)
    {
        if (!ApiKeySecret.LooksValid(plaintextKey))
            return null;
        var hash = ApiKeySecret.Hash(plaintextKey);
        var hashHex = Convert.ToHexStringLower(hash);
        if (!byHash.TryGetValue(hashHex, out var entry))
        {
            entry = await LoadAsync(hashHex, ct);
            if (entry is null)
                return null;
            byHash.TryAdd(hashHex, entry);
        }
        return CryptographicOperations.FixedTimeEquals(entry.Hash, hash) ? entry : null;
    }

    public void Forget(string hashHex) => byHash.TryRemove(hashHex, out _);

    /// <summary>After a lost LISTEN connection a revocation may have been missed: start over from the database.</summary>
    public void ForgetAll() => byHash.Clear();

    private async Task<KeyEntry?> LoadAsync(string hashHex, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "select id, workspace_id, member_id, preset, rpm from api_keys where hash = $1 and revoked_at is null");
        cmd.Parameters.AddWithValue(hashHex);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        return new KeyEntry(
            reader.GetString(0),
            reader.GetString(1),
            reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.GetString(3),
            reader.GetInt32(4),
            Convert.FromHexString(hashHex));
    }
}
