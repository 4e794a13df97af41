using Npgsql;

namespace Infery.Api.Infrastructure;

/// <summary>Applies the schema at start-up, retrying while the database is not reachable yet.</summary>
public sealed class SchemaInitializer(Database database, ILogger<SchemaInitializer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await database.ApplySchemaAsync(stoppingToken);
                logger.LogInformation("schema applied");
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("database not ready ({Message}); retrying in 1s", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }
}
