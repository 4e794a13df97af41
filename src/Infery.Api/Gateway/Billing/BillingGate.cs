using Infery.Api.Infrastructure;
using Npgsql;

namespace Infery.Api.Gateway.Billing;

/// <summary>
/// Closes when a charge, or the credit lease it draws on, cannot be written to the database: the charges of new
/// requests could not be recorded either, so they are refused before any provider is called. Requests already past the
/// gate run to their end. The gate opens again once the database answers and takes writes, asked every second.
/// </summary>
public sealed class BillingGate(Database database, ILogger<BillingGate> logger) : BackgroundService
{
    private static readonly TimeSpan ProbeEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim closing = new(0, 1);

    /// <summary>
    /// Odd while closed. A close while closed adds 2, so a probe that answered before that failure cannot open the
    /// gate on it: the gate opens only on a state no failure has changed since its probe began.
    /// </summary>
    private long state;

    public bool IsOpen => (Volatile.Read(ref state) & 1) == 0;

    /// <summary>
    /// A failure that says the database cannot take charges now, rather than that it refused one statement: it is out
    /// of reach or shutting down, read-only after a failover, or out of disk.
    /// </summary>
    public static bool IsOutage(Exception e) => e switch
    {
        PostgresException refused => refused.SqlState.StartsWith("08", StringComparison.Ordinal)
            || refused.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections
                or PostgresErrorCodes.ReadOnlySqlTransaction or PostgresErrorCodes.DiskFull,
        NpgsqlException failed => failed.IsTransient,
        _ => e is TimeoutException,
    };

    public void Close(Exception cause)
    {
        long seen;
        do
            seen = Volatile.Read(ref state);
        while (Interlocked.CompareExchange(ref state, seen + ((seen & 1) == 0 ? 1 : 2), seen) != seen);
        if ((seen & 1) != 0)
            return;
        logger.LogError("the database cannot take charges ({Message}); new requests are refused until it does again", cause.Message);
        closing.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await closing.WaitAsync(stoppingToken);
            while (true)
            {
                var closedAs = Volatile.Read(ref state);
                await Task.Delay(ProbeEvery, stoppingToken);
                if (await AnswersAsync(stoppingToken) && Interlocked.CompareExchange(ref state, closedAs + 1, closedAs) == closedAs)
                    break;
            }
            logger.LogWarning("the database takes writes again; new requests are taken");
        }
    }

    private async Task<bool> AnswersAsync(CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            return await database.TakesWritesAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
