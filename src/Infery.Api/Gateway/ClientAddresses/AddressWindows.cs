using System.Collections.Concurrent;

namespace Infery.Api.Gateway.ClientAddresses;

/// <summary>
/// Counts per client network in fixed windows, each starting at the network's first count: a network may take
/// <c>limit</c> within its window. The table is bounded: when it is full, even after dropping the networks whose
/// window ended (at most once a window, so a flood of new addresses cannot make every request scan it), networks it
/// does not hold yet are let through uncounted.
/// </summary>
public sealed class AddressWindows(int limit, TimeSpan window, TimeProvider clock, int maxNetworks)
{
    private readonly ConcurrentDictionary<ClientNetwork, Count> byNetwork = new();
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
            DropEndedAtMostOncePerWindow();
            if (Volatile.Read(ref tracked) >= maxNetworks)
                return null;
        }
        return byNetwork.GetOrAdd(network, static (_, windows) => windows.NewCount(), this);
    }

    private Count NewCount()
    {
        Interlocked.Increment(ref tracked);
        return new Count { WindowStart = clock.GetTimestamp() };
    }

    private void DropEndedAtMostOncePerWindow()
    {
        var last = Interlocked.Read(ref lastPruned);
        var now = clock.GetTimestamp();
        if (clock.GetElapsedTime(last, now) < window || Interlocked.CompareExchange(ref lastPruned, now, last) != last)
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
