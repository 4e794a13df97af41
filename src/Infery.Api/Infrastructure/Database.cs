using Infery.EventStore.Schema;
using Npgsql;

namespace Infery.Api.Infrastructure;

/// <summary>The PostgreSQL database named by INFERY_DB, and whether our schema is in it yet.</summary>
public sealed class Database(NpgsqlDataSource dataSource, IReadOnlyList<SchemaModule> modules)
{
    private readonly TaskCompletionSource schemaApplied = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NpgsqlDataSource DataSource => dataSource;

    public bool SchemaApplied => schemaApplied.Task.IsCompletedSuccessfully;

    /// <summary>Completes once the schema is applied; whatever needs tables waits on it.</summary>
    public Task WhenSchemaApplied => schemaApplied.Task;

    public async Task ApplySchemaAsync(CancellationToken ct)
    {
        await SchemaMigrator.ApplyAsync(dataSource, modules, ct);
        schemaApplied.TrySetResult();
    }

    /// <summary>
    /// Whether the database answers and could take a charge: a standby that a failover left behind answers, but
    /// refuses every write, as does a primary set to read-only (some services do that when its disk fills).
    /// </summary>
    public async Task<bool> TakesWritesAsync(CancellationToken ct)
    {
        try
        {
            await using var cmd = dataSource.CreateCommand(
                "select not pg_is_in_recovery() and current_setting('transaction_read_only') = 'off'");
            return await cmd.ExecuteScalarAsync(ct) is true;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    public static string ConnectionStringFrom(IConfiguration configuration) =>
        configuration["INFERY_DB"] is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                "INFERY_DB is not set. Run ./run.sh to start the gateway on a private local PostgreSQL, or set INFERY_DB to a connection string.");
}
