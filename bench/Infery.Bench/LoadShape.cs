using System.Globalization;

namespace Infery.Bench;

/// <summary>
/// How a series is loaded: a number of closed-loop callers, or requests arriving at a fixed rate (open loop) with
/// at most <see cref="Callers"/> of them in flight.
/// </summary>
public sealed record LoadShape(int Callers, int? PerSecond)
{
    /// <summary>Enough for 10,000 requests/s taking 25 ms each.</summary>
    public const int OpenLoopSlots = 256;

    public static LoadShape Closed(int callers) => new(callers, null);

    public static LoadShape Open(int perSecond) => new(OpenLoopSlots, perSecond);

    public bool IsOpen => PerSecond is not null;

    public string Label => PerSecond is { } rate
        ? rate.ToString("N0", CultureInfo.InvariantCulture) + "/s"
        : Callers.ToString(CultureInfo.InvariantCulture);

    /// <param name="operation">Called with the caller's or slot's number; no two operations in flight share one.</param>
    public Task<LoadResult> RunAsync(TimeSpan duration, Func<int, Task> operation) => PerSecond is { } rate
        ? OpenLoopLoad.RunAsync(rate, duration, Callers, operation)
        : ClosedLoopLoad.RunAsync(Callers, duration, (caller, _) => operation(caller));
}
