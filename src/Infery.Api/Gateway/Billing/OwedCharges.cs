using System.Reflection;
using System.Text.Json;
using System.Threading.Channels;
using Infery.Domain;
using Infery.EventStore;
using Npgsql;

namespace Infery.Api.Gateway.Billing;

/// <summary>The charge of a stream the client already has, appended once it can be.</summary>
public sealed class OwedCharge(AuthorizedRequest request, IReadOnlyList<object> events, EventMetadata metadata, Reservation reservation, long amount)
{
    public AuthorizedRequest Request { get; } = request;
    public IReadOnlyList<object> Events { get; } = events;
    public EventMetadata Metadata { get; } = metadata;
    public Reservation Reservation { get; } = reservation;
    public long Amount { get; } = amount;

    /// <summary>Appends refused by the database itself (not for want of a connection); changed under the owner's lock.</summary>
    public int Refusals { get; set; }
}

/// <summary>
/// Charges of streams already delivered whose append failed, the database being unreachable say: held in memory with
/// their reservations, which stay on the lease so the workspace cannot spend them meanwhile, and appended again with
/// growing pauses until recorded. An append that collides with the request's stream finds it recorded already. A
/// charge the database itself refuses three times is given up. Charges given up, refused for want of room, owed after
/// the gateway stopped, or still owed when it stops are logged one by one at Critical, with what an operator needs
/// to record them.
/// </summary>
public sealed class OwedCharges(EventStore.EventStore store, TimeProvider clock, ILogger<OwedCharges> logger) : BackgroundService
{
    public const int MaxOwed = 100_000;
    private const int RefusalsBeforeGivingUp = 3;
    private const int AppendsAtOnce = 256;

    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LastAttempt = TimeSpan.FromSeconds(3);

    private readonly Lock gate = new();
    private readonly Channel<bool> arrived = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly List<OwedCharge> owed = [];
    private bool stopped;

    public int Count
    {
        get
        {
            lock (gate)
                return owed.Count;
        }
    }

    /// <summary>False, with the charge logged as not recorded, when the gateway has stopped or <see cref="MaxOwed"/> are owed already.</summary>
    public bool TryOwe(OwedCharge charge)
    {
        string? refused;
        lock (gate)
        {
            refused = stopped ? "owed after the gateway stopped" : owed.Count >= MaxOwed ? "too many charges owed" : null;
            if (refused is null)
                owed.Add(charge);
        }
        if (refused is not null)
        {
            LogNotRecorded(charge, refused);
            return false;
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

    /// <summary>One last attempt, of a few seconds at most, then every charge still owed is logged.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        lock (gate)
            stopped = true;
        await base.StopAsync(cancellationToken);
        using var lastAttempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lastAttempt.CancelAfter(LastAttempt);
        if (Count > 0)
            await TryRecordAllAsync(lastAttempt.Token);
        foreach (var charge in Snapshot())
            LogNotRecorded(charge, "still owed when the gateway stopped");
    }

    private List<OwedCharge> Snapshot()
    {
        lock (gate)
            return [.. owed];
    }

    /// <summary>
    /// Appends the owed charges, a few hundred at a time so that they share commits, and stops at the first lack of a
    /// connection. A refused commit fails every charge in it, so those are appended again one by one, and only a
    /// refusal of a charge on its own counts against it. True when none is left.
    /// </summary>
    private async Task<bool> TryRecordAllAsync(CancellationToken ct)
    {
        var pending = Snapshot();
        for (var start = 0; start < pending.Count; start += AppendsAtOnce)
        {
            var slice = pending.GetRange(start, Math.Min(AppendsAtOnce, pending.Count - start));
            var outcomes = await Task.WhenAll(slice.Select(charge => TryRecordAsync(charge, alone: false, ct)));
            if (outcomes.Contains(Outcome.Unreachable))
                break;
            for (var i = 0; i < slice.Count; i++)
            {
                if (outcomes[i] == Outcome.Refused && await TryRecordAsync(slice[i], alone: true, ct) == Outcome.Unreachable)
                    return Count == 0;
            }
        }
        return Count == 0;
    }

    private enum Outcome { Recorded, Refused, Unreachable }

    private async Task<Outcome> TryRecordAsync(OwedCharge charge, bool alone, CancellationToken ct)
    {
        try
        {
            await store.AppendOnceAsync(charge.Request.StreamId, charge.Events, charge.Metadata, ct).WaitAsync(ct);
        }
        catch (ConcurrencyException)
        {
            // An earlier append went through after all.
        }
        catch (PostgresException e) when (!e.IsTransient && !alone)
        {
            return Outcome.Refused;
        }
        catch (PostgresException e) when (!e.IsTransient)
        {
            bool givenUp;
            lock (gate)
            {
                givenUp = ++charge.Refusals >= RefusalsBeforeGivingUp && owed.Remove(charge);
            }
            if (givenUp)
            {
                charge.Reservation.Release();
                LogNotRecorded(charge, $"refused by the database {RefusalsBeforeGivingUp} times: {e.MessageText}");
            }
            return Outcome.Refused;
        }
        catch (Exception e)
        {
            logger.LogWarning("owed charge of {RequestId} not recorded yet: {Message}", charge.Request.RequestId, e.Message);
            return Outcome.Unreachable;
        }
        lock (gate)
            owed.Remove(charge);
        charge.Reservation.Release(charge.Amount);
        logger.LogInformation("owed charge of {RequestId} recorded: {Amount} micro-credits", charge.Request.RequestId, charge.Amount);
        return Outcome.Recorded;
    }

    /// <summary>
    /// Everything needed to append the charge by hand: its stream, and each event's type and data, under the metadata
    /// of the request. An append still in flight when the gateway stopped may land after all, so the stream is to be
    /// checked first.
    /// </summary>
    private void LogNotRecorded(OwedCharge charge, string why) =>
        logger.LogCritical(
            "charge not recorded ({Why}): request {RequestId}, workspace {WorkspaceId}, key {KeyId}, {Amount} micro-credits; unless stream {StreamId} has them, append there {Events}",
            why, charge.Request.RequestId, charge.Request.Key.WorkspaceId, charge.Request.Key.KeyId, charge.Amount, charge.Request.StreamId,
            string.Join(" ", charge.Events.Select(e =>
                $"{e.GetType().GetCustomAttribute<EventNameAttribute>()?.Name} {JsonSerializer.Serialize(e, e.GetType(), DomainEventsJson.Default)}")));
}
