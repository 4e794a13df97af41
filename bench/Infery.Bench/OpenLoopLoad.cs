using System.Collections.Concurrent;
using System.Diagnostics;

namespace Infery.Bench;

/// <summary>
/// Open-loop load: operations start on a schedule, at a fixed rate, whether or not earlier ones have finished.
/// A thread of its own keeps the schedule, waking about every millisecond (the runtime's timers tick every 4 ms
/// on some kernels, which would send requests in bursts four times as large) and starting whatever has fallen
/// due. Latency counts from each operation's start; how late each start was against its schedule is recorded
/// beside it. An operation that falls due while every slot is in flight is not started and is counted as unsent:
/// the path could not keep up with the rate.
/// </summary>
public static class OpenLoopLoad
{
    /// <param name="operation">Called with the slot it runs in; no two operations in flight share a slot.</param>
    public static async Task<LoadResult> RunAsync(int perSecond, TimeSpan duration, int slots, Func<int, Task> operation)
    {
        // Slots taken in turn, not the most recently freed first, so that the keys chosen by slot are used evenly.
        var free = new ConcurrentQueue<int>(Enumerable.Range(0, slots));
        var outcomes = Enumerable.Range(0, slots).Select(_ => new Outcomes()).ToArray();
        var started = Stopwatch.GetTimestamp();
        var (running, startLags, unsent) = await Task.Factory.StartNew(
            () => KeepSchedule(perSecond, duration, started, free, RunInSlotAsync), TaskCreationOptions.LongRunning);
        await Task.WhenAll(running);
        return Outcomes.Merge(outcomes, Stopwatch.GetElapsedTime(started), unsent, startLags);

        async Task RunInSlotAsync(int slot)
        {
            await outcomes[slot].RecordAsync(() => operation(slot));
            free.Enqueue(slot);
        }
    }

    private static (List<Task> Running, List<long> StartLags, int Unsent) KeepSchedule(
        int perSecond, TimeSpan duration, long started, ConcurrentQueue<int> free, Func<int, Task> start)
    {
        var total = (long)(perSecond * duration.TotalSeconds);
        var running = new List<Task>();
        var startLags = new List<long>();
        var unsent = 0;
        for (long scheduled = 0; scheduled < total; Thread.Sleep(1))
        {
            var fallenDue = Math.Min(total, (Stopwatch.GetTimestamp() - started) * perSecond / Stopwatch.Frequency + 1);
            for (; scheduled < fallenDue; scheduled++)
            {
                if (!free.TryDequeue(out var slot))
                {
                    unsent++;
                    continue;
                }
                startLags.Add(Stopwatch.GetTimestamp() - (started + scheduled * Stopwatch.Frequency / perSecond));
                running.Add(start(slot));
            }
        }
        return (running, startLags, unsent);
    }
}
