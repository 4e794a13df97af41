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
        return Outcomes.Merge(outcomes, Stopwatch.GetElapsedTime(started), unsent: 0);
    }

    private static async Task<Outcomes> RunCallerAsync(int caller, long deadline, Func<int, int, Task> operation)
    {
        var outcome = new Outcomes();
        for (var count = 0; Stopwatch.GetTimestamp() < deadline; count++)
            await outcome.RecordAsync(() => operation(caller, count));
        return outcome;
    }
}

/// <summary>What the operations of one caller, or one slot, came to.</summary>
internal sealed class Outcomes
{
    public List<long> LatencyTicks { get; } = [];
    public int Failed { get; set; }
    public Exception? FirstError { get; set; }

    /// <summary>Runs one operation and records its latency, or its failure.</summary>
    public async Task RecordAsync(Func<Task> operation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await operation();
            LatencyTicks.Add(Stopwatch.GetTimestamp() - started);
        }
        catch (Exception e)
        {
            Failed++;
            FirstError ??= e;
        }
    }

    public static LoadResult Merge(IReadOnlyCollection<Outcomes> outcomes, TimeSpan elapsed, int unsent) => new(
        Succeeded: outcomes.Sum(o => o.LatencyTicks.Count),
        Failed: outcomes.Sum(o => o.Failed),
        FirstError: outcomes.Select(o => o.FirstError).FirstOrDefault(e => e is not null),
        Elapsed: elapsed,
        SortedLatencyTicks: outcomes.SelectMany(o => o.LatencyTicks).Order().ToArray(),
        Unsent: unsent);
}

/// <param name="Unsent">Open-loop operations that fell due while every slot was in flight, so were never started.</param>
public sealed record LoadResult(int Succeeded, int Failed, Exception? FirstError, TimeSpan Elapsed, long[] SortedLatencyTicks, int Unsent = 0)
{
    public static LoadResult Empty { get; } = new(0, 0, null, TimeSpan.Zero, []);

    /// <summary>Several runs of the same load as if they were one: counts and time add up, latencies merge.</summary>
    public LoadResult Add(LoadResult other) => new(
        Succeeded + other.Succeeded,
        Failed + other.Failed,
        FirstError ?? other.FirstError,
        Elapsed + other.Elapsed,
        SortedLatencyTicks.Concat(other.SortedLatencyTicks).Order().ToArray(),
        Unsent + other.Unsent);

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
