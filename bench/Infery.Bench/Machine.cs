namespace Infery.Bench;

/// <summary>Where the repository is and how busy the machine was, for every benchmark's report.</summary>
public static class Machine
{
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Infery.sln")))
                return dir.FullName;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Infery.sln")))
                return dir.FullName;
        return Directory.GetCurrentDirectory();
    }

    /// <summary>Other work on the machine moves benchmark numbers; the load average at the start says how much there was.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? $" (load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at start)" : "";
}
