using System.Collections.Concurrent;
using System.Diagnostics;

namespace Infery.Bench;

/// <summary>
/// Open-loop load: operations start on a schedule, at a fixed rate, whether or not earlier ones have finished, as
/// requests from many independent users would. The schedule is kept on a one-millisecond timer, so operations
/// leave in small bursts (the rate ÷ 1,000 per tick, more when a tick is late). Latency counts from each
/// operation's start. An operation that falls due while every slot is in flight is not started and is counted as
/// unsent: the path could not keep up with the rate.
/// </summary>
public static class OpenLoopLoad
{
    /// <param name="operation">Called with the slot it runs in; no two operations in flight share a slot.</param>
    public static async Task<LoadResult> RunAsync(int perSecond, TimeSpan duration, int slots, Func<int, Task> operation)
    {
        var free = new ConcurrentStack<int>(Enumerable.Range(0, slots).Reverse());
        var outcomes = Enumerable.Range(0, slots).Select(_ => new Outcomes()).ToArray();
        var running = new List<Task>();
        var unsent = 0;

        var started = Stopwatch.GetTimestamp();
        var length = (long)(duration.TotalSeconds * Stopwatch.Frequency);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(1));
        for (long sent = 0, elapsed; (elapsed = Stopwatch.GetTimestamp() - started) < length; await timer.WaitForNextTickAsync())
        {
            for (var due = elapsed * perSecond / Stopwatch.Frequency; sent < due; sent++)
            {
                if (free.TryPop(out var slot))
                    running.Add(RunInSlotAsync(slot));
                else
                    unsent++;
            }
        }
        await Task.WhenAll(running);
        return Outcomes.Merge(outcomes, Stopwatch.GetElapsedTime(started), unsent);

        async Task RunInSlotAsync(int slot)
        {
            await outcomes[slot].RecordAsync(() => operation(slot));
            free.Push(slot);
        }
    }
}
