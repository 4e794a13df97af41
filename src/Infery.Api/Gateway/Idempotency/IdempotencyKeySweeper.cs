using Infery.Api.Infrastructure;

namespace Infery.Api.Gateway.Idempotency;

/// <summary>Deletes expired idempotency keys once an hour, so the table holds about a day of keys.</summary>
public sealed class IdempotencyKeySweeper(Database database, TimeProvider clock, ILogger<IdempotencyKeySweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await database.WhenSchemaApplied.WaitAsync(stoppingToken);
            using var timer = new PeriodicTimer(TimeSpan.FromHours(1), clock);
            do
                await SweepAsync(stoppingToken);
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SweepAsync(CancellationToken ct)
    {
        try
        {
            await using var cmd = database.DataSource.CreateCommand("delete from idempotency_keys where expires_at < $1");
            cmd.Parameters.AddWithValue(clock.GetUtcNow());
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("could not sweep expired idempotency keys: {Message}", e.Message);
        }
    }
}
