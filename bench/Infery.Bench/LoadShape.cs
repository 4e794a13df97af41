using System.Globalization;

namespace Infery.Bench;

/// <summary>
/// How a series is loaded: a number of closed-loop callers, always all in flight, or requests arriving at a fixed
/// rate (open loop) with at most <see cref="MaxInFlight"/> of them in flight.
/// </summary>
public sealed record LoadShape(int MaxInFlight, int? PerSecond)
{
    /// <summary>At 4,000 requests/s, room for a stall of 64 ms before a request goes unsent.</summary>
    public const int OpenLoopSlots = 256;

    public static LoadShape Closed(int callers) => new(callers, null);

    public static LoadShape Open(int perSecond) => new(OpenLoopSlots, perSecond);

    public bool IsOpen => PerSecond is not null;

    public string Label => PerSecond is { } rate
        ? rate.ToString("N0", CultureInfo.InvariantCulture) + "/s"
        : MaxInFlight.ToString(CultureInfo.InvariantCulture);

    /// <param name="operation">Called with the caller's or slot's number; no two operations in flight share one.</param>
    public Task<LoadResult> RunAsync(TimeSpan duration, Func<int, Task> operation) => PerSecond is { } rate
        ? OpenLoopLoad.RunAsync(rate, duration, MaxInFlight, operation)
        : ClosedLoopLoad.RunAsync(MaxInFlight, duration, (caller, _) => operation(caller));
}
