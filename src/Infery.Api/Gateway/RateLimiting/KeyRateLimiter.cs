using System.Collections.Concurrent;
using Infery.Api.Gateway.Billing;
using Npgsql;

namespace Infery.Api.Gateway.RateLimiting;

/// <summary>
/// Requests per minute per key, held in the database so that every instance counts against the same limit. An
/// instance takes a slice of the key's minute at a time, a twentieth of its rpm (at least one request), and spends it
/// from memory: a key pays a round-trip once per slice, and instances together never let through more than its rpm.
/// What an instance holds unspent when the minute ends is lost, so a key may be refused up to a slice per instance
/// short of its limit. The window slides: the previous minute's requests count for the part of it still in the
/// last sixty seconds.
/// </summary>
public sealed class KeyRateLimiter(NpgsqlDataSource dataSource, BillingGate gate, TimeProvider clock)
{
    public const int SlicesPerMinute = 20;

    /// <summary>After the database had nothing left for a key, its requests are refused from memory for this long.</summary>
    private const long RefusedForMs = 1_000;

    private readonly ConcurrentDictionary<string, KeyMinute> keys = new(StringComparer.Ordinal);

    /// <summary>Null when the request cannot be counted: a slice is needed and the database cannot be reached.</summary>
    public async ValueTask<RateDecision?> TryAcquireAsync(string keyId, int rpm, CancellationToken ct)
    {
        var key = keys.GetOrAdd(keyId, static _ => new KeyMinute());
        var nowMs = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (key.TryDecide(rpm, nowMs) is { } decided)
            return decided;

        await key.Refill.WaitAsync(ct);
        try
        {
            // Another request may have taken a slice while this one waited.
            nowMs = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (key.TryDecide(rpm, nowMs) is { } meanwhile)
                return meanwhile;
            if (!gate.IsOpen)
                return null;
            var minute = nowMs / 60_000;
            int slice, leftShared;
            try
            {
                (slice, leftShared) = await TakeSliceAsync(keyId, rpm, minute, nowMs, ct);
            }
            catch (Exception e) when (BillingGate.IsOutage(e))
            {
                gate.Close(e);
                return null;
            }
            key.Add(minute, slice, leftShared, refusedUntilMs: slice == 0 ? nowMs + RefusedForMs : 0);
            return key.TryDecide(rpm, nowMs);
        }
        finally
        {
            key.Refill.Release();
        }
    }

    private async Task<(int Slice, int LeftShared)> TakeSliceAsync(string keyId, int rpm, long minute, long nowMs, CancellationToken ct)
    {
        var previousWeight = (60_000 - nowMs % 60_000) / 60_000.0;
        await using var take = dataSource.CreateBatch();
        take.BatchCommands.Add(Command(
            "insert into rate_limit_windows (key_id, minute, granted, last_grant) values ($1, $2, 0, 0) on conflict do nothing",
            keyId, minute));
        // The slice is worked out against the row as it is when the update locks it, so instances taking slices at the
        // same moment never take more than the budget together.
        take.BatchCommands.Add(Command("""
            update rate_limit_windows w
            set last_grant = greatest(0, least($3, b.budget - w.granted)),
                granted = w.granted + greatest(0, least($3, b.budget - w.granted))
            from (select $4 - ceil(coalesce((select granted from rate_limit_windows where key_id = $1 and minute = $2 - 1), 0) * $5)::int as budget) b
            where w.key_id = $1 and w.minute = $2
            returning w.last_grant, b.budget - w.granted
            """, keyId, minute, Math.Max(1, rpm / SlicesPerMinute), rpm, previousWeight));
        // The insert returns no rows, so the reader starts on the update's.
        await using var reader = await take.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt32(0), Math.Max(0, reader.GetInt32(1)));
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return command;
    }

    /// <summary>What this instance holds of one key's current minute.</summary>
    private sealed class KeyMinute
    {
        private readonly Lock gate = new();
        private long minute = -1;
        private int held;
        private int leftShared;
        private long refusedUntilMs;

        /// <summary>Serialises this instance's slice-taking for the key.</summary>
        public SemaphoreSlim Refill { get; } = new(1, 1);

        /// <summary>Allowed from the slice held, refused while the database has nothing left, or null: a slice is needed.</summary>
        public RateDecision? TryDecide(int rpm, long nowMs)
        {
            var reset = TimeSpan.FromMilliseconds(60_000 - nowMs % 60_000);
            lock (gate)
            {
                if (minute != nowMs / 60_000)
                    return null;
                if (held > 0)
                {
                    held--;
                    return new RateDecision(true, rpm, Math.Min(rpm, held + leftShared), reset);
                }
                return nowMs < refusedUntilMs
                    ? new RateDecision(false, rpm, 0, TimeSpan.FromMilliseconds(Math.Max(1_000, reset.TotalMilliseconds)))
                    : null;
            }
        }

        public void Add(long minute, int slice, int leftShared, long refusedUntilMs)
        {
            lock (gate)
            {
                if (this.minute != minute)
                {
                    this.minute = minute;
                    held = 0;
                }
                held += slice;
                this.leftShared = leftShared;
                this.refusedUntilMs = refusedUntilMs;
            }
        }
    }
}

public readonly record struct RateDecision(bool Allowed, int Limit, int Remaining, TimeSpan Reset);
