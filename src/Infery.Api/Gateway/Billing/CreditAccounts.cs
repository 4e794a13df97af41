using System.Collections.Concurrent;
using Npgsql;

namespace Infery.Api.Gateway.Billing;

/// <summary>Credits held back for a request in flight. Released exactly once: on settle, failure, timeout or disconnect.</summary>
public sealed class Reservation(CreditAccounts.Account account, long amount)
{
    private int released;

    public long Amount => amount;

    public string WorkspaceId => account.WorkspaceId;

    /// <summary>Returns the reservation and, if something was charged, takes it off the balance; idempotent.</summary>
    public void Release(long charged = 0)
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
            account.Release(amount, charged);
    }

    public bool IsReleased => Volatile.Read(ref released) == 1;
}

/// <summary>
/// Each workspace's balance and reservations, in memory, so reserving costs no database round-trip.
/// The balance is read once from the balances projection, then follows this instance's own charges and grants
/// directly and other instances' through NOTIFY deltas. Reserve is atomic per workspace: balance − reserved
/// never goes below zero through this instance; across N instances, overspend is bounded by what the
/// others have reserved but not yet settled.
/// </summary>
public sealed class CreditAccounts(NpgsqlDataSource dataSource)
{
    private readonly ConcurrentDictionary<string, Task<Account>> accounts = new(StringComparer.Ordinal);

    public async ValueTask<Reservation?> TryReserveAsync(string workspaceId, long amount, CancellationToken ct)
    {
        var account = await GetAsync(workspaceId, ct);
        return account.TryReserve(amount) ? new Reservation(account, amount) : null;
    }

    public async ValueTask<(long Balance, long Reserved)> SnapshotAsync(string workspaceId, CancellationToken ct)
    {
        var account = await GetAsync(workspaceId, ct);
        return account.Snapshot();
    }

    /// <summary>A grant or refund this instance made durable.</summary>
    public void Credit(string workspaceId, long amount)
    {
        if (accounts.TryGetValue(workspaceId, out var loading) && loading.IsCompletedSuccessfully)
            loading.Result.Adjust(amount, version: null);
    }

    /// <summary>A change another instance made durable, as its NOTIFY told it.</summary>
    public void ApplyRemote(string workspaceId, long delta, long version)
    {
        if (accounts.TryGetValue(workspaceId, out var loading) && loading.IsCompletedSuccessfully)
            loading.Result.Adjust(delta, version);
    }

    /// <summary>After a lost LISTEN connection deltas may have been missed: read balances afresh on next use.</summary>
    public void ForgetAll() => accounts.Clear();

    private ValueTask<Account> GetAsync(string workspaceId, CancellationToken ct)
    {
        var loading = accounts.GetOrAdd(workspaceId, id => LoadAsync(id));
        if (loading.IsCompletedSuccessfully)
            return ValueTask.FromResult(loading.Result);
        return AwaitLoad(workspaceId, loading, ct);
    }

    private async ValueTask<Account> AwaitLoad(string workspaceId, Task<Account> loading, CancellationToken ct)
    {
        try
        {
            return await loading.WaitAsync(ct);
        }
        catch (Exception) when (loading.IsFaulted)
        {
            accounts.TryRemove(new KeyValuePair<string, Task<Account>>(workspaceId, loading));
            throw;
        }
    }

    private async Task<Account> LoadAsync(string workspaceId)
    {
        await using var cmd = dataSource.CreateCommand("select balance, version from workspace_balances where workspace_id = $1");
        cmd.Parameters.AddWithValue(workspaceId);
        await using var reader = await cmd.ExecuteReaderAsync();
        return await reader.ReadAsync()
            ? new Account(workspaceId, reader.GetInt64(0), reader.GetInt64(1))
            : new Account(workspaceId, 0, 0);
    }

    public sealed class Account(string workspaceId, long balance, long loadedVersion)
    {
        private readonly Lock gate = new();
        private long balance = balance;
        private long reserved;

        public string WorkspaceId => workspaceId;

        public bool TryReserve(long amount)
        {
            lock (gate)
            {
                if (balance - reserved < amount)
                    return false;
                reserved += amount;
                return true;
            }
        }

        public void Release(long amount, long charged)
        {
            lock (gate)
            {
                reserved -= amount;
                balance -= charged;
            }
        }

        /// <summary>Remote deltas at or below the version this account was loaded at are already in its balance.</summary>
        public void Adjust(long delta, long? version)
        {
            if (version is { } v && v <= loadedVersion)
                return;
            lock (gate)
                balance += delta;
        }

        public (long Balance, long Reserved) Snapshot()
        {
            lock (gate)
                return (balance, reserved);
        }
    }
}
