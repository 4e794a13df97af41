using Infery.Testing.Fixtures;
using Npgsql;

namespace Infery.Bench;

/// <summary>The database a benchmark runs against: INFERY_DB if set, otherwise a throwaway local cluster.</summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    private readonly LocalCluster? cluster;

    private BenchDatabase(string connectionString, LocalCluster? cluster, string origin)
    {
        ConnectionString = connectionString;
        this.cluster = cluster;
        Origin = origin;
    }

    public string ConnectionString { get; }

    /// <summary>Where the database came from, for the report.</summary>
    public string Origin { get; }

    public static async Task<BenchDatabase> OpenAsync()
    {
        var given = Environment.GetEnvironmentVariable("INFERY_DB");
        if (!string.IsNullOrWhiteSpace(given))
            return new BenchDatabase(given, null, "INFERY_DB");

        var cluster = await LocalCluster.StartAsync(Path.Combine(Path.GetTempPath(), $"infery-bench-pg-{Guid.NewGuid():N}"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Dispose();
        return new BenchDatabase(cluster.ConnectionString, cluster, "throwaway local cluster");
    }

    /// <summary>CPU time the database server and its backends have used so far; null for a server not started here.</summary>
    public TimeSpan? ServerCpuTime() => cluster is null ? null : ProcessCpu.OfTree(cluster.ServerProcessId);

    /// <summary>A pooled data source with room for <paramref name="connections"/> connections at once.</summary>
    public NpgsqlDataSource CreateDataSource(int connections)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        builder.MaxPoolSize = Math.Max(builder.MaxPoolSize, connections);
        return NpgsqlDataSource.Create(builder);
    }

    public ValueTask DisposeAsync()
    {
        cluster?.Dispose();
        return ValueTask.CompletedTask;
    }
}
