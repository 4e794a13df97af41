using System.Collections.Concurrent;

namespace Infery.Api.Gateway.ClientAddresses;

/// <summary>
/// Counts per client network in fixed windows, each starting at the network's first count: a network may take
/// <c>limit</c> within its window. The table is bounded: when it is full, even after dropping the networks whose
/// window ended (at most every ten seconds, or once a shorter window, so that a flood of new addresses cannot make
/// every request scan it), networks it does not hold yet are let through uncounted.
/// </summary>
public sealed class AddressWindows(int limit, TimeSpan window, TimeProvider clock, int maxNetworks)
{
    private static readonly TimeSpan LongestBetweenPrunes = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<ClientNetwork, Count> byNetwork = new();
    private readonly TimeSpan betweenPrunes = window < LongestBetweenPrunes ? window : LongestBetweenPrunes;
    private int tracked;
    private long lastPruned = clock.GetTimestamp();

    private sealed class Count
    {
        public long WindowStart;
        public int Taken;
    }

    /// <summary>Counts one; false, with how long until the window ends, when the network has used its window up.</summary>
    public bool TryTake(ClientNetwork network, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (CountOf(network) is not { } count)
            return true;
        lock (count)
        {
            var now = clock.GetTimestamp();
            var elapsed = clock.GetElapsedTime(count.WindowStart, now);
            if (elapsed >= window)
            {
                count.WindowStart = now;
                count.Taken = 0;
                elapsed = TimeSpan.Zero;
            }
            if (count.Taken >= limit)
            {
                retryAfter = window - elapsed;
                return false;
            }
            count.Taken++;
            return true;
        }
    }

    /// <summary>Returns one taken within the current window.</summary>
    public void GiveBack(ClientNetwork network)
    {
        if (!byNetwork.TryGetValue(network, out var count))
            return;
        lock (count)
        {
            if (count.Taken > 0)
                count.Taken--;
        }
    }

    /// <summary>The network's counter; null when as many networks are held as may be, even after dropping those whose window ended.</summary>
    private Count? CountOf(ClientNetwork network)
    {
        if (byNetwork.TryGetValue(network, out var count))
            return count;
        if (Volatile.Read(ref tracked) >= maxNetworks)
        {
            DropEndedNowAndThen();
            if (Volatile.Read(ref tracked) >= maxNetworks)
                return null;
        }
        // Requests from a new network may arrive together: only the one whose counter is kept counts it in.
        var fresh = new Count { WindowStart = clock.GetTimestamp() };
        if (!byNetwork.TryAdd(network, fresh))
            return byNetwork.TryGetValue(network, out count) ? count : null;
        Interlocked.Increment(ref tracked);
        return fresh;
    }

    private void DropEndedNowAndThen()
    {
        var last = Interlocked.Read(ref lastPruned);
        var now = clock.GetTimestamp();
        if (clock.GetElapsedTime(last, now) < betweenPrunes || Interlocked.CompareExchange(ref lastPruned, now, last) != last)
            return;
        foreach (var (network, count) in byNetwork)
        {
            bool ended;
            lock (count)
                ended = clock.GetElapsedTime(count.WindowStart, now) >= window;
            if (ended && byNetwork.TryRemove(new KeyValuePair<ClientNetwork, Count>(network, count)))
                Interlocked.Decrement(ref tracked);
        }
    }
}
