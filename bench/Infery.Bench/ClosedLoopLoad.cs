using System.Diagnostics;

namespace Infery.Bench;

/// <summary>
/// Closed-loop load: each caller starts its next operation as soon as the previous one finishes,
/// until the time is up. Operations in flight at the deadline are allowed to finish and are counted.
/// </summary>
public static class ClosedLoopLoad
{
    /// <param name="operation">Called with the caller's number and that caller's running count.</param>
    public static async Task<LoadResult> RunAsync(int callers, TimeSpan duration, Func<int, int, Task> operation)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var outcomes = await Task.WhenAll(Enumerable.Range(0, callers)
            .Select(caller => Task.Run(() => RunCallerAsync(caller, deadline, operation))));
        return Outcomes.Merge(outcomes, Stopwatch.GetElapsedTime(started));
    }

    private static async Task<Outcomes> RunCallerAsync(int caller, long deadline, Func<int, int, Task> operation)
    {
        var outcome = new Outcomes();
        for (var count = 0; Stopwatch.GetTimestamp() < deadline; count++)
            await outcome.RecordAsync(() => operation(caller, count));
        return outcome;
    }
}
