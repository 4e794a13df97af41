using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Infery.Testing.Fixtures;

/// <summary>
/// The PostgreSQL server tests run against: the one named by INFERY_TEST_DB, or otherwise a throwaway
/// cluster started from the machine's PostgreSQL binaries for this test run and removed at exit.
/// Every caller gets a database of its own, so test classes never see each other's rows.
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<Task<string>> AdminConnection = new(StartAsync);
    private static LocalCluster? cluster;

    public static async Task<string> CreateDatabaseAsync(string prefix = "t")
    {
        var admin = await AdminConnection.Value;
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 63)].ToLowerInvariant();
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database \"{name}\"", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    private static async Task<string> StartAsync()
    {
        var given = Environment.GetEnvironmentVariable("INFERY_TEST_DB");
        if (!string.IsNullOrWhiteSpace(given))
            return given;

        cluster = await LocalCluster.StartAsync(Path.Combine(Path.GetTempPath(), $"infery-test-pg-{Guid.NewGuid():N}"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.DisposeDetached();
        return cluster.ConnectionString;
    }
}

/// <summary>
/// A private PostgreSQL cluster: initdb into a directory, start on a free port, stop and delete on dispose. Clusters
/// that earlier processes left behind are removed when a new one starts.
/// </summary>
public sealed class LocalCluster : IDisposable
{
    private const string OwnerFile = "owner.pid";
    private static readonly TimeSpan OwnerlessKeptFor = TimeSpan.FromMinutes(10);

    private readonly string dataDir;
    private readonly string binDir;
    private readonly bool asPostgresUser;

    private LocalCluster(string dataDir, string binDir, bool asPostgresUser, int port)
    {
        this.dataDir = dataDir;
        this.binDir = binDir;
        this.asPostgresUser = asPostgresUser;
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true;Maximum Pool Size=200";
    }

    public string ConnectionString { get; }

    /// <summary>The server's main process (the postmaster); every backend is a child of it.</summary>
    public int ServerProcessId => int.Parse(File.ReadLines(Path.Combine(dataDir, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<LocalCluster> StartAsync(string dataDir)
    {
        var binDir = FindBinDir();
        var asPostgresUser = Environment.UserName == "root";
        RemoveAbandoned(Path.GetDirectoryName(Path.GetFullPath(dataDir))!, binDir, asPostgresUser);
        Directory.CreateDirectory(dataDir);
        if (asPostgresUser)
            await RunAsync("chown", ["-R", "postgres:postgres", dataDir], asUser: false);

        var port = FreePort();
        var cluster = new LocalCluster(dataDir, binDir, asPostgresUser, port);
        await cluster.RunPgAsync("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
        await File.AppendAllTextAsync(Path.Combine(dataDir, "postgresql.conf"),
            $"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 300\n" +
            "fsync = on\nsynchronous_commit = on\nshared_buffers = 128MB\n");
        await File.WriteAllTextAsync(Path.Combine(dataDir, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await cluster.RunPgAsync("pg_ctl", ["-D", dataDir, "-l", Path.Combine(dataDir, "server.log"), "-w", "-t", "60", "start"]);
        return cluster;
    }

    /// <summary>
    /// A process ended before its exit handlers finished leaves its cluster behind, a few hundred megabytes each, and
    /// enough of them fill the disk. A cluster whose owner process is gone is stopped, if it still runs, and deleted;
    /// one with no owner recorded yet is being created, unless it is older than <see cref="OwnerlessKeptFor"/>.
    /// </summary>
    private static void RemoveAbandoned(string parent, string binDir, bool asPostgresUser)
    {
        foreach (var dir in Directory.EnumerateDirectories(parent, "infery-*-pg-*"))
        {
            var owner = Path.Combine(dir, OwnerFile);
            // An owner file read while it is being written holds no number yet: that cluster counts as being created.
            var abandoned = File.Exists(owner) && int.TryParse(File.ReadAllText(owner), out var pid)
                ? !IsRunning(pid)
                : DateTime.UtcNow - Directory.GetCreationTimeUtc(dir) > OwnerlessKeptFor;
            if (!abandoned)
                continue;
            try
            {
                if (File.Exists(Path.Combine(dir, "postmaster.pid")))
                    new LocalCluster(dir, binDir, asPostgresUser, port: 0).Dispose();
                else
                    Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process removing it at the same time, or not ours to remove: either way, leave it.
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            RunPgAsync("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).GetAwaiter().GetResult();
        }
        catch (InvalidOperationException)
        {
            // Already stopped: deleting the directory is all that is left to do.
        }
        try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Stops and deletes the cluster from a process of its own, for exit handlers: the test runner ends its test host
    /// soon after asking it to exit, before a stop it waited for would finish.
    /// </summary>
    public void DisposeDetached()
    {
        var stop = $"'{Path.Combine(binDir, "pg_ctl")}' -D '{dataDir}' -m immediate -w stop";
        var script = $"{(asPostgresUser ? "runuser -u postgres -- " : "")}{stop} >/dev/null 2>&1; rm -rf '{dataDir}'";
        using var cleanup = Process.Start(new ProcessStartInfo("setsid", ["sh", "-c", script]) { WorkingDirectory = Path.GetTempPath() });
    }

    private Task RunPgAsync(string tool, string[] args) =>
        RunAsync(Path.Combine(binDir, tool), args, asPostgresUser);

    private static async Task RunAsync(string file, string[] args, bool asUser)
    {
        var psi = asUser
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", file, .. args])
            : new ProcessStartInfo(file, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = Path.GetTempPath();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
    }

    private static string FindBinDir()
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => Path.Combine(d, "bin"))
            : [];
        foreach (var dir in candidates.Append("/usr/local/bin").Append("/usr/bin"))
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
                return dir;
        throw new InvalidOperationException("PostgreSQL server binaries (initdb, pg_ctl) not found; install the postgresql package or set INFERY_TEST_DB");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
