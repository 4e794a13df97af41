using System.Globalization;
using Infery.Api.Gateway.Auth;
using Infery.Api.Gateway.Billing;
using Infery.Api.Gateway.Fallbacks;
using Infery.Api.Infrastructure;
using Infery.Projections.ApiKeys;
using Infery.Projections.Balances;
using Infery.Projections.Fallbacks;
using Npgsql;

namespace Infery.Api.Gateway;

/// <summary>
/// Follows what other instances (and this one) commit: revoked keys leave the key cache, other instances'
/// credit changes move the in-memory balances, changed fallback chains are read again. If the connection
/// drops, every cache is emptied, since a notification may have been missed while it was down.
/// </summary>
public sealed class NotificationListener(
    Database database, KeyDirectory keys, CreditAccounts accounts, FallbackChains fallbackChains, InstanceIdentity instance,
    ILogger<NotificationListener> logger)
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
                    $"listen {ApiKeysProjection.RevokedChannel}; listen {BalancesProjection.Channel}; listen {FallbackChainsProjection.ChangedChannel}", conn))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                keys.ForgetAll();
                accounts.ForgetAll();
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
        {
            keys.Forget(payload);
            return;
        }
        if (channel == FallbackChainsProjection.ChangedChannel)
        {
            fallbackChains.Forget(payload);
            return;
        }
        // origin|workspace|delta|version
        var parts = payload.Split('|');
        if (parts.Length == 4 && parts[0] != instance.Id
            && long.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var delta)
            && long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            accounts.ApplyRemote(parts[1], delta, version);
    }
}

/// <summary>Names this gateway process in the notifications it causes.</summary>
public sealed record InstanceIdentity(string Id)
{
    public static InstanceIdentity New() => new($"{Environment.ProcessId}-{Guid.NewGuid():N}");
}
