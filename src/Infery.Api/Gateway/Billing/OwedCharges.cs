using System.Threading.Channels;
using Infery.EventStore;

namespace Infery.Api.Gateway.Billing;

/// <summary>The charge of a stream the client already has, appended once it can be.</summary>
public sealed record OwedCharge(AuthorizedRequest Request, IReadOnlyList<object> Events, EventMetadata Metadata, Reservation Reservation, long Amount);

/// <summary>
/// Charges of streams already delivered whose append failed, the database being unreachable say: held in memory with
/// their reservations, which stay on the lease so the workspace cannot spend them meanwhile, and appended again with
/// growing pauses until recorded. An append that collides with the request's stream finds it recorded already. Charges
/// still owed when the gateway stops are logged one by one, with what an operator needs to record them.
/// </summary>
public sealed class OwedCharges(EventStore.EventStore store, TimeProvider clock, ILogger<OwedCharges> logger) : BackgroundService
{
    public const int MaxOwed = 100_000;

    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(30);

    private readonly Lock gate = new();
    private readonly Channel<bool> arrived = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private List<OwedCharge> owed = [];

    public int Count
    {
        get
        {
            lock (gate)
                return owed.Count;
        }
    }

    /// <summary>False when <see cref="MaxOwed"/> charges are owed already.</summary>
    public bool TryOwe(OwedCharge charge)
    {
        lock (gate)
        {
            if (owed.Count >= MaxOwed)
                return false;
            owed.Add(charge);
        }
        arrived.Writer.TryWrite(true);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                await arrived.Reader.ReadAsync(stoppingToken);
                var pause = FirstPause;
                do
                {
                    await Task.Delay(pause, clock, stoppingToken);
                    pause = pause * 2 < LongestPause ? pause * 2 : LongestPause;
                }
                while (!await TryRecordAllAsync(stoppingToken));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (Count == 0 || await TryRecordAllAsync(cancellationToken))
            return;
        List<OwedCharge> left;
        lock (gate)
            left = owed;
        foreach (var charge in left)
            logger.LogCritical(
                "charge not recorded at shutdown: request {RequestId}, workspace {WorkspaceId}, key {KeyId}, stream {StreamId}, {Amount} micro-credits",
                charge.Request.RequestId, charge.Request.Key.WorkspaceId, charge.Request.Key.KeyId, charge.Request.StreamId, charge.Amount);
    }

    /// <summary>Appends the owed charges in turn, stopping at the first that fails; true when none is left.</summary>
    private async Task<bool> TryRecordAllAsync(CancellationToken ct)
    {
        List<OwedCharge> batch;
        lock (gate)
            (batch, owed) = (owed, []);
        var recorded = 0;
        try
        {
            for (; recorded < batch.Count; recorded++)
            {
                var charge = batch[recorded];
                try
                {
                    await store.AppendOnceAsync(charge.Request.StreamId, charge.Events, charge.Metadata, ct);
                }
                catch (ConcurrencyException)
                {
                    // An earlier append went through after all.
                }
                charge.Reservation.Release(charge.Amount);
                logger.LogInformation("owed charge of {RequestId} recorded: {Amount} micro-credits", charge.Request.RequestId, charge.Amount);
            }
        }
        catch (Exception e)
        {
            logger.LogWarning("{Count} charges still owed: {Message}", batch.Count - recorded, e.Message);
        }
        lock (gate)
        {
            owed.InsertRange(0, batch.Skip(recorded));
            return owed.Count == 0;
        }
    }
}
