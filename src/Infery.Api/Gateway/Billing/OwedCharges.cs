using System.Reflection;
using System.Text.Json;
using System.Threading.Channels;
using Infery.Domain;
using Infery.EventStore;
using Npgsql;

namespace Infery.Api.Gateway.Billing;

/// <summary>
/// The charge of a stream the client already has, appended once it can be. One read back from the journal at start has
/// no reservation: its credits went back to the balance with the lease of the gateway that owed it.
/// </summary>
public sealed class OwedCharge(
    string streamId, string requestId, string workspaceId, string keyId, IReadOnlyList<object> events, EventMetadata metadata,
    Reservation? reservation, long amount)
{
    public string StreamId { get; } = streamId;
    public string RequestId { get; } = requestId;
    public string WorkspaceId { get; } = workspaceId;
    public string KeyId { get; } = keyId;
    public IReadOnlyList<object> Events { get; } = events;
    public EventMetadata Metadata { get; } = metadata;
    public Reservation? Reservation { get; } = reservation;
    public long Amount { get; } = amount;

    /// <summary>Appends refused by the database itself (not for want of a connection); changed under the owner's lock.</summary>
    public int Refusals { get; set; }

    /// <summary>Written to the journal, so that a restart records it; read from it, for one taken up at start.</summary>
    public bool Journaled { get; set; }
}

/// <summary>
/// Charges of streams already delivered whose append failed, the database being unreachable say: written to the
/// journal, held in memory with their reservations, which stay on the lease so the workspace cannot spend them
/// meanwhile, and appended again with growing pauses until recorded. Charges the journal holds from before the last
/// stop are taken up at start. An append that collides with the request's stream finds it recorded already. A charge
/// the database itself refuses three times is given up. Charges given up, refused for want of room, owed after the
/// gateway stopped, or still owed when it stops are logged one by one at Critical, with what an operator needs to
/// record them; those owed after the stop or still owed then stay in the journal for the next start.
/// </summary>
public sealed class OwedCharges : BackgroundService
{
    public const int MaxOwed = 100_000;
    private const int RefusalsBeforeGivingUp = 3;
    private const int AppendsAtOnce = 256;

    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LastAttempt = TimeSpan.FromSeconds(3);

    private readonly EventStore.EventStore store;
    private readonly OwedChargeJournal journal;
    private readonly TimeProvider clock;
    private readonly ILogger<OwedCharges> logger;

    /// <summary>Guards the list and the journal together, so that the journal is emptied only when nothing is owed.</summary>
    private readonly Lock gate = new();
    private readonly Channel<bool> arrived = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly List<OwedCharge> owed;
    private bool stopped;

    /// <summary>The journal holds charges this gateway will not record (owed after its stop, or unreadable): it must not be emptied.</summary>
    private bool journalHoldsMore;

    public OwedCharges(EventStore.EventStore store, OwedChargeJournal journal, TimeProvider clock, ILogger<OwedCharges> logger)
    {
        this.store = store;
        this.journal = journal;
        this.clock = clock;
        this.logger = logger;
        (owed, var unreadable) = journal.ReadOwed();
        if (owed.Count > 0)
        {
            logger.LogWarning("{Count} charges owed when the gateway last stopped are taken up from {Journal}", owed.Count, journal.Path);
            arrived.Writer.TryWrite(true);
        }
        // Kept in the journal, which is then never emptied, until an operator has recorded them.
        foreach (var line in unreadable)
            logger.LogCritical("charge not recorded (its line in {Journal} cannot be read back by this version); record it by hand and remove the line: {Line}", journal.Path, line);
        journalHoldsMore = unreadable.Count > 0;
    }

    public int Count
    {
        get
        {
            lock (gate)
                return owed.Count;
        }
    }

    /// <summary>
    /// False, with the charge logged as not recorded, when the gateway has stopped (the journal keeps it for the next
    /// start) or <see cref="MaxOwed"/> are owed already.
    /// </summary>
    public bool TryOwe(OwedCharge charge)
    {
        string? refused;
        lock (gate)
        {
            if (owed.Count >= MaxOwed)
                refused = "too many charges owed";
            else if (stopped)
            {
                refused = KeptOrNot("owed after the gateway stopped", Journal(charge));
                journalHoldsMore = true;
            }
            else
            {
                Journal(charge);
                refused = null;
                owed.Add(charge);
            }
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
            LogNotRecorded(charge, KeptOrNot("still owed when the gateway stopped", charge.Journaled));
    }

    private string KeptOrNot(string why, bool journaled) => journaled ? $"{why}; kept in {journal.Path} for its next start" : why;

    /// <summary>Written to disk before the stream's end tells the client its charge is pending; called under the lock.</summary>
    private bool Journal(OwedCharge charge)
    {
        try
        {
            journal.Owe(charge);
            charge.Journaled = true;
        }
        catch (Exception e)
        {
            logger.LogError("owed charge of {RequestId} not written to {Journal}: {Message}; held in memory only", charge.RequestId, journal.Path, e.Message);
        }
        return charge.Journaled;
    }

    /// <summary>Out of the list and settled in the journal, emptied when nothing else is owed; false when it was not owed.</summary>
    private bool Settle(OwedCharge charge)
    {
        lock (gate)
        {
            if (!owed.Remove(charge))
                return false;
            try
            {
                journal.Settle(charge.StreamId, nothingOwed: owed.Count == 0 && !journalHoldsMore);
            }
            catch (Exception e)
            {
                logger.LogError("settled charge of {RequestId} not written to {Journal}: {Message}", charge.RequestId, journal.Path, e.Message);
            }
            return true;
        }
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
            await store.AppendOnceAsync(charge.StreamId, charge.Events, charge.Metadata, ct).WaitAsync(ct);
        }
        catch (ConcurrencyException)
        {
            // An earlier append went through after all.
        }
        // A database out of reach, read-only after a failover or out of disk refuses every charge alike: they wait for it.
        catch (Exception e) when (BillingGate.IsOutage(e) || e is OperationCanceledException)
        {
            logger.LogWarning("owed charge of {RequestId} not recorded yet: {Message}", charge.RequestId, e.Message);
            return Outcome.Unreachable;
        }
        catch (Exception) when (!alone)
        {
            return Outcome.Refused;
        }
        catch (Exception e)
        {
            bool givenUp;
            lock (gate)
                givenUp = ++charge.Refusals >= RefusalsBeforeGivingUp;
            if (givenUp && Settle(charge))
            {
                charge.Reservation?.Release();
                LogNotRecorded(charge, $"refused by the database {RefusalsBeforeGivingUp} times: {(e is PostgresException refused ? refused.MessageText : e.Message)}");
            }
            return Outcome.Refused;
        }
        Settle(charge);
        charge.Reservation?.Release(charge.Amount);
        logger.LogInformation("owed charge of {RequestId} recorded: {Amount} micro-credits", charge.RequestId, charge.Amount);
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
            why, charge.RequestId, charge.WorkspaceId, charge.KeyId, charge.Amount, charge.StreamId,
            string.Join(" ", charge.Events.Select(e =>
                $"{e.GetType().GetCustomAttribute<EventNameAttribute>()?.Name} {JsonSerializer.Serialize(e, e.GetType(), DomainEventsJson.Default)}")));
}
