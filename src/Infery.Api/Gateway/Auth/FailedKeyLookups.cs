using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace Infery.Api.Gateway.Auth;

/// <summary>From the configuration section "Auth".</summary>
public sealed class FailedKeyLookupsOptions
{
    public const string Section = "Auth";

    /// <summary>Unknown keys one client address may bring within <see cref="WindowSeconds"/>; 0 counts none.</summary>
    public int MaxUnknownKeysPerAddress { get; set; } = 20;

    public int WindowSeconds { get; set; } = 10;

    public bool IsValid => MaxUnknownKeysPerAddress >= 0 && WindowSeconds is >= 1 and <= 3_600;
}

/// <summary>
/// Lookups of keys the directory has not cached, counted per client address (an IPv6 address by its /64 network,
/// which one client may hold whole). An address may start a limited number within a window, and a lookup that finds
/// its key gives its count back; so an address guessing keys is refused further database reads until the window ends,
/// while keys already cached are served from memory and never counted. Requests without an address (in-process)
/// are not counted.
/// </summary>
public sealed class FailedKeyLookups
{
    private readonly int limit;
    private readonly TimeSpan window;
    private readonly TimeProvider clock;
    private readonly int maxAddresses;
    private readonly ConcurrentDictionary<IPAddress, Count> byAddress = new();
    private int tracked;
    private long lastPruned;

    public FailedKeyLookups(IOptions<FailedKeyLookupsOptions> options, TimeProvider clock)
        : this(options, clock, maxAddresses: 100_000)
    {
    }

    internal FailedKeyLookups(IOptions<FailedKeyLookupsOptions> options, TimeProvider clock, int maxAddresses)
    {
        limit = options.Value.MaxUnknownKeysPerAddress;
        window = TimeSpan.FromSeconds(options.Value.WindowSeconds);
        this.clock = clock;
        this.maxAddresses = maxAddresses;
        lastPruned = clock.GetTimestamp();
    }

    private sealed class Count
    {
        public long WindowStart;
        public int Unknown;
    }

    /// <summary>Counts a lookup about to start; false, with how long to wait, when the address has used up its window.</summary>
    public bool TryStart(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (limit == 0 || address is null || CountOf(Normalized(address)) is not { } count)
            return true;
        lock (count)
        {
            var now = clock.GetTimestamp();
            var elapsed = clock.GetElapsedTime(count.WindowStart, now);
            if (elapsed >= window)
            {
                count.WindowStart = now;
                count.Unknown = 0;
                elapsed = TimeSpan.Zero;
            }
            if (count.Unknown >= limit)
            {
                retryAfter = window - elapsed;
                return false;
            }
            count.Unknown++;
            return true;
        }
    }

    /// <summary>The lookup found its key, or could not tell: it counts as no guess.</summary>
    public void GiveBack(IPAddress? address)
    {
        if (limit == 0 || address is null || !byAddress.TryGetValue(Normalized(address), out var count))
            return;
        lock (count)
        {
            if (count.Unknown > 0)
                count.Unknown--;
        }
    }

    /// <summary>The address's counter; null when as many addresses are counted as may be, even after dropping those whose window ended.</summary>
    private Count? CountOf(IPAddress address)
    {
        if (byAddress.TryGetValue(address, out var count))
            return count;
        if (Volatile.Read(ref tracked) >= maxAddresses)
        {
            DropEndedAtMostOncePerWindow();
            if (Volatile.Read(ref tracked) >= maxAddresses)
                return null;
        }
        return byAddress.GetOrAdd(address, static (_, lookups) =>
        {
            Interlocked.Increment(ref lookups.tracked);
            return new Count { WindowStart = lookups.clock.GetTimestamp() };
        }, this);
    }

    private void DropEndedAtMostOncePerWindow()
    {
        var last = Interlocked.Read(ref lastPruned);
        var now = clock.GetTimestamp();
        if (clock.GetElapsedTime(last, now) < window || Interlocked.CompareExchange(ref lastPruned, now, last) != last)
            return;
        foreach (var (address, count) in byAddress)
        {
            bool ended;
            lock (count)
                ended = clock.GetElapsedTime(count.WindowStart, now) >= window;
            if (ended && byAddress.TryRemove(new KeyValuePair<IPAddress, Count>(address, count)))
                Interlocked.Decrement(ref tracked);
        }
    }

    /// <summary>An IPv4 address however it came, an IPv6 address by its /64 network.</summary>
    private static IPAddress Normalized(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            return address.MapToIPv4();
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            return address;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }
}
