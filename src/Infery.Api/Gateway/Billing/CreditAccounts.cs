using System.Collections.Concurrent;
using Infery.EventStore;
using Npgsql;

namespace Infery.Api.Gateway.Billing;

/// <summary>Credits held back for a request in flight. Released exactly once: on settle, failure, timeout or disconnect.</summary>
public sealed class Reservation(CreditAccounts.Account account, long amount)
{
    private int released;

    public long Amount => amount;

    /// <summary>Returns the reservation and takes what was charged off this instance's lease; idempotent.</summary>
    public void Release(long charged = 0)
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
            account.Release(amount, charged);
    }

    /// <summary>The same credits held for a new owner, who releases them; releasing this one does nothing from now on.</summary>
    public Reservation HandOver() =>
        Interlocked.Exchange(ref released, 1) == 0 ? new Reservation(account, amount) : throw new InvalidOperationException("The reservation was released already.");
}

public sealed record CreditLeaseOptions
{
    /// <summary>A lease not renewed for this long is void, so credits held by a crashed instance come back.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Live leases are renewed this often; a quarter of <see cref="Ttl"/> unless set, and under half of it in any
    /// case, so a missed renewal never lets a held lease lapse. Renewing locks the lease rows every charge updates,
    /// so each renewal can hold the charges up.
    /// </summary>
    public TimeSpan RenewEvery
    {
        get => renewEvery ?? Ttl / 4;
        init => renewEvery = value;
    }

    private readonly TimeSpan? renewEvery;

    /// <summary>A workspace with no new reservation for this long gives its unused lease back for other instances.</summary>
    public TimeSpan IdleBeforeReturn { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>When the lease runs short, ask for room for this many more requests like the one at hand.</summary>
    public int HeadroomRequests { get; init; } = 100;

    /// <summary>After the balance could not cover a request, others are refused without asking the database for this long.</summary>
    public TimeSpan RetryAfterRunningDry { get; init; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// Reservations against credit leases. Each instance leases part of a workspace's balance from the database
/// and reserves against it in memory, so a reservation costs no round-trip while the lease lasts. The lease
/// row shrinks with every charge in the charge's own transaction, and all leases of a workspace together never
/// exceed its balance — so N instances together can never spend more than the balance. An idle instance gives
/// its unused lease back; a crashed one's lease expires.
/// </summary>
public sealed class CreditAccounts(NpgsqlDataSource dataSource, InstanceIdentity instance, TimeProvider clock, CreditLeaseOptions options)
{
    private readonly ConcurrentDictionary<string, Account> accounts = new(StringComparer.Ordinal);
    private readonly TimeSpan renewEvery = options.RenewEvery < options.Ttl / 2
        ? options.RenewEvery
        : throw new ArgumentOutOfRangeException(nameof(options), "leases must be renewed more often than every half of their time to live");
    private long lastRenewedAt = clock.GetTimestamp();
    private readonly long ttlTicks = (long)(options.Ttl.TotalSeconds * clock.TimestampFrequency);

    public async ValueTask<Reservation?> TryReserveAsync(string workspaceId, long amount, CancellationToken ct)
    {
        var account = accounts.GetOrAdd(workspaceId, id => new Account(id));
        var now = clock.GetTimestamp();
        if (account.TryReserve(amount, now))
            return new Reservation(account, amount);
        // A workspace that just ran dry is refused from memory for a moment, so a flood of requests it cannot
        // pay for does not become a flood of lease transactions.
        if (clock.GetElapsedTime(account.LastRanDryAt, now) < options.RetryAfterRunningDry)
            return null;
        await GrowLeaseAsync(account, amount, ct);
        // The lease is judged at the time the wait for it ended: it may have lapsed during the wait.
        if (account.TryReserve(amount, clock.GetTimestamp()))
            return new Reservation(account, amount);
        account.RanDry(clock.GetTimestamp());
        return null;
    }

    /// <summary>What this instance holds reserved for requests in flight.</summary>
    public long ReservedBy(string workspaceId) => accounts.TryGetValue(workspaceId, out var account) ? account.Reserved : 0;

    /// <summary>Gives idle leases back and, every <see cref="CreditLeaseOptions.RenewEvery"/>, keeps the others from expiring.</summary>
    public async Task MaintainAsync(CancellationToken ct)
    {
        var now = clock.GetTimestamp();
        foreach (var account in accounts.Values)
        {
            if (clock.GetElapsedTime(account.LastReservedAt, now) < options.IdleBeforeReturn || !account.HasUnusedLease)
                continue;
            await account.DatabaseGate.WaitAsync(ct);
            try
            {
                var keep = account.ShrinkToReserved();
                await ExecuteAsync("update credit_leases set amount = $3 where workspace_id = $1 and instance_id = $2",
                    [account.WorkspaceId, instance.Id, keep], ct);
            }
            finally
            {
                account.DatabaseGate.Release();
            }
        }
        if (clock.GetElapsedTime(lastRenewedAt, now) < renewEvery)
            return;
        // Locked in workspace order, the order a charge batch takes them in, so the two never deadlock.
        await using var renew = dataSource.CreateCommand("""
            update credit_leases l set expires_at = now() + $2
            from (select workspace_id from credit_leases where instance_id = $1 and amount > 0 order by workspace_id collate "C" for update) held
            where l.workspace_id = held.workspace_id and l.instance_id = $1
            returning l.workspace_id
            """);
        renew.Parameters.AddWithValue(instance.Id);
        renew.Parameters.AddWithValue(options.Ttl);
        await using (var renewed = await renew.ExecuteReaderAsync(ct))
        {
            // Only the rows renewed: a lease that lapsed before this, and may have gone to another instance, stays lapsed.
            while (await renewed.ReadAsync(ct))
                if (accounts.TryGetValue(renewed.GetString(0), out var account))
                    account.ValidUntil(now + ttlTicks);
        }
        lastRenewedAt = now;
    }

    private async Task GrowLeaseAsync(Account account, long amount, CancellationToken ct)
    {
        await account.DatabaseGate.WaitAsync(ct);
        try
        {
            if (account.Covers(amount, clock.GetTimestamp()))
                return;
            var wanted = account.Reserved + amount + amount * options.HeadroomRequests;
            var leasedAt = clock.GetTimestamp();
            account.SetLease(await LeaseAsync(account.WorkspaceId, wanted, ct), leasedAt + ttlTicks);
        }
        finally
        {
            account.DatabaseGate.Release();
        }
    }

    /// <summary>
    /// Sets this instance's lease to what it wants, or at least a quarter of what is free, but never more
    /// than the balance minus other instances' leases. The balance row lock serialises instances.
    /// </summary>
    private async Task<long> LeaseAsync(string workspaceId, long wanted, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockBalance = new NpgsqlBatch(conn, tx))
        {
            lockBalance.Add("select balance from workspace_balances where workspace_id = $1 for update", workspaceId);
            lockBalance.Add("delete from credit_leases where workspace_id = $1 and expires_at < now()", workspaceId);
            await lockBalance.ExecuteNonQueryAsync(ct);
        }
        await using var lease = new NpgsqlCommand("""
            with free as (
                select coalesce((select balance from workspace_balances where workspace_id = $1), 0)
                     - coalesce((select sum(amount) from credit_leases where workspace_id = $1 and instance_id <> $2), 0) as amount)
            insert into credit_leases (workspace_id, instance_id, amount, expires_at)
            select $1, $2, greatest(0, least(free.amount, greatest($3, free.amount / 4))), now() + $4 from free
            on conflict (workspace_id, instance_id) do update set amount = excluded.amount, expires_at = excluded.expires_at
            returning amount
            """, conn, tx);
        lease.Parameters.AddWithValue(workspaceId);
        lease.Parameters.AddWithValue(instance.Id);
        lease.Parameters.AddWithValue(wanted);
        lease.Parameters.AddWithValue(options.Ttl);
        var granted = (long)(await lease.ExecuteScalarAsync(ct))!;
        await tx.CommitAsync(ct);
        return granted;
    }

    private async Task ExecuteAsync(string sql, object[] parameters, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
            cmd.Parameters.AddWithValue(parameter);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// One workspace as this instance sees it. The local lease never exceeds the lease row in the database:
    /// charges come off both, and every database write sets the row to what the local lease is then. Nor does it
    /// outlive the row: past the time to live counted from before the last write that set the row's expiry, it
    /// covers nothing, since the database may have given the credits to another instance by then.
    /// </summary>
    public sealed class Account(string workspaceId)
    {
        private readonly Lock gate = new();
        private long lease;
        private long reserved;
        private long lastReservedAt;
        private long lastRanDryAt = long.MinValue / 2;
        private long validUntil = long.MinValue;

        public string WorkspaceId => workspaceId;

        /// <summary>Serialises this instance's lease writes for the workspace.</summary>
        public SemaphoreSlim DatabaseGate { get; } = new(1, 1);

        public long Reserved { get { lock (gate) return reserved; } }

        public long LastReservedAt => Volatile.Read(ref lastReservedAt);

        public long LastRanDryAt => Volatile.Read(ref lastRanDryAt);

        public void RanDry(long now) => Volatile.Write(ref lastRanDryAt, now);

        public bool HasUnusedLease { get { lock (gate) return lease > reserved; } }

        public bool Covers(long amount, long now)
        {
            lock (gate)
                return now < validUntil && lease - reserved >= amount;
        }

        public bool TryReserve(long amount, long now)
        {
            lock (gate)
            {
                if (now >= validUntil || lease - reserved < amount)
                    return false;
                reserved += amount;
                lastReservedAt = now;
                return true;
            }
        }

        public void Release(long amount, long charged)
        {
            lock (gate)
            {
                reserved -= amount;
                lease -= charged;
            }
        }

        public void SetLease(long amount, long validUntil)
        {
            lock (gate)
            {
                lease = amount;
                this.validUntil = validUntil;
            }
        }

        public void ValidUntil(long validUntil)
        {
            lock (gate)
                this.validUntil = Math.Max(this.validUntil, validUntil);
        }

        public long ShrinkToReserved()
        {
            lock (gate)
                return lease = reserved;
        }
    }
}
