using System.Diagnostics;

namespace Infery.Bench;

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

    public static LoadResult Merge(IReadOnlyCollection<Outcomes> outcomes, TimeSpan elapsed, int unsent = 0, IEnumerable<long>? startLagTicks = null) => new(
        Succeeded: outcomes.Sum(o => o.LatencyTicks.Count),
        Failed: outcomes.Sum(o => o.Failed),
        FirstError: outcomes.Select(o => o.FirstError).FirstOrDefault(e => e is not null),
        Elapsed: elapsed,
        SortedLatencyTicks: outcomes.SelectMany(o => o.LatencyTicks).Order().ToArray(),
        Unsent: unsent,
        SortedStartLagTicks: startLagTicks?.Order().ToArray() ?? []);
}

/// <param name="Unsent">Open-loop operations that fell due while every slot was in flight, so were never started.</param>
/// <param name="SortedStartLagTicks">Open loop: how long after its scheduled moment each operation started.</param>
public sealed record LoadResult(
    int Succeeded, int Failed, Exception? FirstError, TimeSpan Elapsed, long[] SortedLatencyTicks, int Unsent, long[] SortedStartLagTicks)
{
    public static LoadResult Empty { get; } = new(0, 0, null, TimeSpan.Zero, [], 0, []);

    /// <summary>Several runs of the same load as if they were one: counts and time add up, latencies merge.</summary>
    public LoadResult Add(LoadResult other) => new(
        Succeeded + other.Succeeded,
        Failed + other.Failed,
        FirstError ?? other.FirstError,
        Elapsed + other.Elapsed,
        SortedLatencyTicks.Concat(other.SortedLatencyTicks).Order().ToArray(),
        Unsent + other.Unsent,
        SortedStartLagTicks.Concat(other.SortedStartLagTicks).Order().ToArray());

    public double PerSecond => Elapsed > TimeSpan.Zero ? Succeeded / Elapsed.TotalSeconds : 0;

    public TimeSpan Percentile(double fraction) => PercentileOf(SortedLatencyTicks, fraction);

    public static TimeSpan PercentileOf(long[] sortedTicks, double fraction)
    {
        if (sortedTicks.Length == 0)
            return TimeSpan.Zero;
        var index = (int)Math.Ceiling(fraction * sortedTicks.Length) - 1;
        var ticks = sortedTicks[Math.Clamp(index, 0, sortedTicks.Length - 1)];
        return TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency);
    }
}
