using Infery.Api.Infrastructure;

namespace Infery.Api.Gateway.RateLimiting;

/// <summary>Every minute, deletes the rate-limit minutes no window reaches any more.</summary>
public sealed class RateLimitWindowSweeper(Database database, TimeProvider clock, ILogger<RateLimitWindowSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await database.WhenSchemaApplied.WaitAsync(stoppingToken);
            using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), clock);
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await SweepAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SweepAsync(CancellationToken ct)
    {
        try
        {
            await using var cmd = database.DataSource.CreateCommand("delete from rate_limit_windows where minute < $1");
            cmd.Parameters.AddWithValue(clock.GetUtcNow().ToUnixTimeSeconds() / 60 - 1);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("could not sweep old rate-limit minutes: {Message}", e.Message);
        }
    }
}
