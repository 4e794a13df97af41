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
        var elapsed = Stopwatch.GetElapsedTime(started);

        var latencies = outcomes.SelectMany(o => o.LatencyTicks).Order().ToArray();
        return new LoadResult(
            Succeeded: latencies.Length,
            Failed: outcomes.Sum(o => o.Failed),
            FirstError: outcomes.Select(o => o.FirstError).FirstOrDefault(e => e is not null),
            Elapsed: elapsed,
            SortedLatencyTicks: latencies);
    }

    private static async Task<CallerOutcome> RunCallerAsync(int caller, long deadline, Func<int, int, Task> operation)
    {
        var outcome = new CallerOutcome();
        for (var count = 0; Stopwatch.GetTimestamp() < deadline; count++)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await operation(caller, count);
                outcome.LatencyTicks.Add(Stopwatch.GetTimestamp() - started);
            }
            catch (Exception e)
            {
                outcome.Failed++;
                outcome.FirstError ??= e;
            }
        }
        return outcome;
    }

    private sealed class CallerOutcome
    {
        public List<long> LatencyTicks { get; } = [];
        public int Failed { get; set; }
        public Exception? FirstError { get; set; }
    }
}

public sealed record LoadResult(int Succeeded, int Failed, Exception? FirstError, TimeSpan Elapsed, long[] SortedLatencyTicks)
{
    public static LoadResult Empty { get; } = new(0, 0, null, TimeSpan.Zero, []);

    /// <summary>Several runs of the same load as if they were one: counts and time add up, latencies merge.</summary>
    public LoadResult Add(LoadResult other) => new(
        Succeeded + other.Succeeded,
        Failed + other.Failed,
        FirstError ?? other.FirstError,
        Elapsed + other.Elapsed,
        SortedLatencyTicks.Concat(other.SortedLatencyTicks).Order().ToArray());

    public double PerSecond => Elapsed > TimeSpan.Zero ? Succeeded / Elapsed.TotalSeconds : 0;

    public TimeSpan Percentile(double fraction)
    {
        if (SortedLatencyTicks.Length == 0)
            return TimeSpan.Zero;
        var index = (int)Math.Ceiling(fraction * SortedLatencyTicks.Length) - 1;
        var ticks = SortedLatencyTicks[Math.Clamp(index, 0, SortedLatencyTicks.Length - 1)];
        return TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency);
    }
}
