using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Npgsql;

namespace Infery.Api.Gateway.Auth;

/// <summary>A key as the gateway needs it on every request.</summary>
public sealed record KeyEntry(string KeyId, string WorkspaceId, string? MemberId, string Preset, int Rpm, byte[] Hash);

/// <summary>The key found, or none; <see cref="RetryAfter"/> is above zero when it was not looked up at all.</summary>
public readonly record struct KeyLookup(KeyEntry? Key, TimeSpan RetryAfter);

/// <summary>
/// The key directory, cached in memory: the first request with a key reads it from the database, later ones
/// cost nothing. Requests that bring the same uncached key at once share that one read: a gateway starting, or
/// emptying its cache, under load would otherwise open a connection per request in flight. A revocation anywhere
/// reaches this cache through NOTIFY (<see cref="Forget"/>).
/// </summary>
public sealed class KeyDirectory(NpgsqlDataSource dataSource, FailedKeyLookups failedLookups)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<KeyEntry?>>> byHash = new(StringComparer.Ordinal);

    /// <summary>
    /// The key's entry; none when it is unknown, or when <paramref name="from"/> brought too many unknown keys of
    /// late (then <see cref="KeyLookup.RetryAfter"/> says for how long), so that a key not cached is not looked up.
    /// </summary>
    public async ValueTask<KeyLookup> FindAsync(string plaintextKey, IPAddress? from, CancellationToken ct)
    {
        if (!ApiKeySecret.LooksValid(plaintextKey))
            return default;
        var hash = ApiKeySecret.Hash(plaintextKey);
        var hashHex = Convert.ToHexStringLower(hash);
        var counted = false;
        if (!byHash.TryGetValue(hashHex, out var lookup))
        {
            if (!failedLookups.TryStart(from, out var retryAfter))
                return new KeyLookup(null, retryAfter);
            counted = true;
            lookup = byHash.GetOrAdd(hashHex, static (hex, directory) => new Lazy<Task<KeyEntry?>>(() => directory.LoadAsync(hex)), this);
        }
        KeyEntry? entry;
        try
        {
            // The read is shared, so it is not cancelled with the request that started it.
            entry = await lookup.Value.WaitAsync(ct);
        }
        catch (Exception e) when (lookup.Value.IsFaulted || e is OperationCanceledException)
        {
            if (lookup.Value.IsFaulted)
                byHash.TryRemove(new(hashHex, lookup));
            if (counted)
                failedLookups.GiveBack(from);
            throw;
        }
        if (entry is null)
        {
            // Unknown keys are not remembered, or guessing would fill the cache.
            byHash.TryRemove(new(hashHex, lookup));
            return default;
        }
        if (counted)
            failedLookups.GiveBack(from);
        return CryptographicOperations.FixedTimeEquals(entry.Hash, hash) ? new KeyLookup(entry, TimeSpan.Zero) : default;
    }

    public void Forget(string hashHex) => byHash.TryRemove(hashHex, out _);

    /// <summary>After a lost LISTEN connection a revocation may have been missed: start over from the database.</summary>
    public void ForgetAll() => byHash.Clear();

    private async Task<KeyEntry?> LoadAsync(string hashHex)
    {
        await using var cmd = dataSource.CreateCommand(
            "select id, workspace_id, member_id, preset, rpm from api_keys where hash = $1 and revoked_at is null");
        cmd.Parameters.AddWithValue(hashHex);
        await using var reader = await cmd.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
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
