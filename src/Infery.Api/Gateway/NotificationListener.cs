using Infery.Api.Gateway.Auth;
using Infery.Api.Gateway.Fallbacks;
using Infery.Api.Infrastructure;
using Infery.Projections.ApiKeys;
using Infery.Projections.Fallbacks;
using Npgsql;

namespace Infery.Api.Gateway;

/// <summary>
/// Follows what any instance commits: a revoked key leaves this instance's key cache, a changed fallback chain
/// is read again. If the connection drops, both caches are emptied, since a notification may have been missed
/// while it was down.
/// </summary>
public sealed class NotificationListener(Database database, KeyDirectory keys, FallbackChains fallbackChains, ILogger<NotificationListener> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await database.WhenSchemaApplied.WaitAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var conn = await database.DataSource.OpenConnectionAsync(stoppingToken);
                conn.Notification += (_, n) => Dispatch(n.Channel, n.Payload);
                await using (var listen = new NpgsqlCommand(
                    $"listen {ApiKeysProjection.RevokedChannel}; listen {FallbackChainsProjection.ChangedChannel}", conn))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                keys.ForgetAll();
                fallbackChains.ForgetAll();
                while (!stoppingToken.IsCancellationRequested)
                    await conn.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("notification connection lost ({Message}); reconnecting", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }

    private void Dispatch(string channel, string payload)
    {
        if (channel == ApiKeysProjection.RevokedChannel)
            keys.Forget(payload);
        else if (channel == FallbackChainsProjection.ChangedChannel)
            fallbackChains.Forget(payload);
    }
}

/// <summary>Names this gateway process, e.g. as the holder of credit leases.</summary>
public sealed record InstanceIdentity(string Id)
{
    public static InstanceIdentity New() => new($"{Environment.ProcessId}-{Guid.NewGuid():N}");
}
