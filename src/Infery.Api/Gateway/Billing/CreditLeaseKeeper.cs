namespace Infery.Api.Gateway.Billing;

/// <summary>Every second: idle credit leases go back to the workspace, and live ones are renewed when due (<see cref="CreditLeaseOptions.RenewEvery"/>).</summary>
public sealed class CreditLeaseKeeper(CreditAccounts accounts, Infrastructure.Database database, BillingGate gate, ILogger<CreditLeaseKeeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await database.WhenSchemaApplied.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await accounts.MaintainAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("credit lease upkeep failed: {Message}", e.Message);
                if (BillingGate.IsOutage(e))
                    gate.Close(e);
            }
        }
    }
}
