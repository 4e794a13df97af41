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
}

/// <summary>
/// Unknown API keys counted per client address. An address that brought too many within a window gets no database
/// read for a key the directory has not cached until the window ends: guessing keys would otherwise cost a read each.
/// Keys already known are served from memory and never wait on this. Requests without an address (in-process) are
/// not counted.
/// </summary>
public sealed class FailedKeyLookups(IOptions<FailedKeyLookupsOptions> options, TimeProvider clock)
{
    /// <summary>Addresses remembered at most; beyond it, those whose window has ended are dropped.</summary>
    private const int MaxAddresses = 100_000;

    private readonly int limit = options.Value.MaxUnknownKeysPerAddress;
    private readonly TimeSpan window = TimeSpan.FromSeconds(options.Value.WindowSeconds);
    private readonly ConcurrentDictionary<IPAddress, Count> byAddress = new();

    private sealed class Count
    {
        public long WindowStart;
        public int Unknown;
    }

    /// <summary>How long the address must wait before unknown keys are looked up for it again; zero when they are now.</summary>
    public TimeSpan BlockedFor(IPAddress? address)
    {
        if (limit == 0 || address is null || !byAddress.TryGetValue(address, out var count))
            return TimeSpan.Zero;
        lock (count)
        {
            var elapsed = clock.GetElapsedTime(count.WindowStart);
            return count.Unknown >= limit && elapsed < window ? window - elapsed : TimeSpan.Zero;
        }
    }

    public void Record(IPAddress? address)
    {
        if (limit == 0 || address is null)
            return;
        if (byAddress.Count >= MaxAddresses)
            DropEnded();
        var count = byAddress.GetOrAdd(address, static _ => new Count());
        lock (count)
        {
            var now = clock.GetTimestamp();
            if (count.Unknown == 0 || clock.GetElapsedTime(count.WindowStart, now) >= window)
            {
                count.WindowStart = now;
                count.Unknown = 0;
            }
            count.Unknown++;
        }
    }

    private void DropEnded()
    {
        foreach (var (address, count) in byAddress)
        {
            bool ended;
            lock (count)
                ended = clock.GetElapsedTime(count.WindowStart) >= window;
            if (ended)
                byAddress.TryRemove(new KeyValuePair<IPAddress, Count>(address, count));
        }
    }
}
