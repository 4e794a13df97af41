using System.Globalization;

namespace Infery.Bench;

/// <summary>User plus system CPU time of processes, read from /proc.</summary>
public static class ProcessCpu
{
    /// <summary>Linux reports utime and stime in clock ticks of 1/100 s (USER_HZ) on every mainstream architecture.</summary>
    private const double ClockTicksPerSecond = 100;

    public static TimeSpan Of(int pid) =>
        TimeSpan.FromSeconds((Read(pid)?.Ticks ?? throw new InvalidOperationException($"process {pid} has exited")) / ClockTicksPerSecond);

    /// <summary>
    /// A process and its children, e.g. a PostgreSQL server and its backends. A child that has exited no longer
    /// counts, so a backend that closes between two readings takes its time with it.
    /// </summary>
    public static TimeSpan OfTree(int parentPid)
    {
        var ticks = Read(parentPid)?.Ticks ?? 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && Read(pid) is { } stat && stat.ParentPid == parentPid)
                ticks += stat.Ticks;
        }
        return TimeSpan.FromSeconds(ticks / ClockTicksPerSecond);
    }

    private static (int ParentPid, long Ticks)? Read(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null; // it exited
        }
        // "pid (comm) state ppid ...": the fields after the closing parenthesis; ppid is the 4th field, utime and stime the 14th and 15th.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (int.Parse(fields[1], CultureInfo.InvariantCulture),
            long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
    }
}
