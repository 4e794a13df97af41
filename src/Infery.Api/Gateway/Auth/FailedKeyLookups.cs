using System.Net;
using Infery.Api.Gateway.ClientAddresses;
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
/// Lookups of keys the directory has not cached, counted per client network (<see cref="ClientNetwork"/>). A network
/// may start a limited number within a window, and a lookup that finds its key gives its count back; so an address
/// guessing keys is refused further database reads until the window ends, while keys already cached are served from
/// memory and never counted. Requests without an address (in-process) are not counted.
/// </summary>
public sealed class FailedKeyLookups
{
    private readonly AddressWindows? windows;

    public FailedKeyLookups(IOptions<FailedKeyLookupsOptions> options, TimeProvider clock)
        : this(options, clock, maxAddresses: 100_000)
    {
    }

    internal FailedKeyLookups(IOptions<FailedKeyLookupsOptions> options, TimeProvider clock, int maxAddresses)
    {
        if (options.Value.MaxUnknownKeysPerAddress > 0)
            windows = new AddressWindows(options.Value.MaxUnknownKeysPerAddress, TimeSpan.FromSeconds(options.Value.WindowSeconds), clock, maxAddresses);
    }

    /// <summary>Counts a lookup about to start; false, with how long to wait, when the address has used up its window.</summary>
    public bool TryStart(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        return windows is null || address is null || windows.TryTake(ClientNetwork.Of(address), out retryAfter);
    }

    /// <summary>The lookup found its key, or could not tell: it counts as no guess.</summary>
    public void GiveBack(IPAddress? address)
    {
        if (windows is not null && address is not null)
            windows.GiveBack(ClientNetwork.Of(address));
    }
}
