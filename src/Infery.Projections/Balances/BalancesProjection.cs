using Infery.Domain.Credits;
using Infery.EventStore;
using Npgsql;

namespace Infery.Projections.Balances;

/// <summary>
/// Balance, total granted, charged and refunded per workspace, in the same transaction as the credit events:
/// one statement per workspace per batch, however many charges the batch holds. A charge also comes off the
/// credit lease of the instance that appended it (<paramref name="origin"/>), so leases never add up to more
/// than the balance.
/// </summary>
public sealed class BalancesProjection(string origin) : IInlineProjection
{
    public void Project(IReadOnlyList<EventEnvelope> events, NpgsqlBatch batch)
    {
        // Workspace by workspace in one order, the order every writer locks these rows in, so no two deadlock.
        SortedDictionary<string, Totals>? byWorkspace = null;
        foreach (var envelope in events)
        {
            var (workspace, totals) = envelope.Data switch
            {
                CreditsGranted e => (e.WorkspaceId, new Totals(e.Amount, 0, 0)),
                CreditsCharged e => (e.WorkspaceId, new Totals(0, e.Amount, 0)),
                CreditsRefunded e => (e.WorkspaceId, new Totals(0, 0, e.Amount)),
                _ => (null, default),
            };
            if (workspace is null)
                continue;
            byWorkspace ??= new SortedDictionary<string, Totals>(StringComparer.Ordinal);
            byWorkspace[workspace] = byWorkspace.GetValueOrDefault(workspace) + totals;
        }
        if (byWorkspace is null)
            return;

        foreach (var (workspace, totals) in byWorkspace)
        {
            batch.Add("""
                insert into workspace_balances as b (workspace_id, balance, total_granted, total_charged, total_refunded, version)
                values ($1, $2 - $3 + $4, $2, $3, $4, 1)
                on conflict (workspace_id) do update set
                    balance = b.balance + excluded.balance,
                    total_granted = b.total_granted + excluded.total_granted,
                    total_charged = b.total_charged + excluded.total_charged,
                    total_refunded = b.total_refunded + excluded.total_refunded,
                    version = b.version + 1,
                    updated_at = now()
                """, workspace, totals.Granted, totals.Charged, totals.Refunded);
            if (totals.Charged > 0)
                batch.Add("update credit_leases set amount = greatest(amount - $3, 0) where workspace_id = $1 and instance_id = $2",
                    workspace, origin, totals.Charged);
        }
    }

    private readonly record struct Totals(long Granted, long Charged, long Refunded)
    {
        public static Totals operator +(Totals a, Totals b) =>
            new(a.Granted + b.Granted, a.Charged + b.Charged, a.Refunded + b.Refunded);
    }
}
