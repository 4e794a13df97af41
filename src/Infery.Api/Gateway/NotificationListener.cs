using Infery.Api.Gateway.Auth;
using Infery.Api.Infrastructure;
using Infery.Projections.ApiKeys;
using Npgsql;

namespace Infery.Api.Gateway;

/// <summary>
/// Follows revocations committed by any instance: a revoked key leaves this instance's key cache. If the
/// connection drops, the whole cache is emptied, since a revocation may have been missed while it was down.
/// </summary>
public sealed class NotificationListener(Database database, KeyDirectory keys, ILogger<NotificationListener> logger)
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
                conn.Notification += (_, n) => keys.Forget(n.Payload);
                await using (var listen = new NpgsqlCommand($"listen {ApiKeysProjection.RevokedChannel}", conn))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                keys.ForgetAll();
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
}

/// <summary>Names this gateway process, e.g. as the holder of credit leases.</summary>
public sealed record InstanceIdentity(string Id)
{
    public static InstanceIdentity New() => new($"{Environment.ProcessId}-{Guid.NewGuid():N}");
}
