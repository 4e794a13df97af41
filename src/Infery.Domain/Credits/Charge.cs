using Infery.Domain.Requests;

namespace Infery.Domain.Credits;

/// <summary>What a served request produces: its record and its charge, appended together on a stream of the request's own.</summary>
public static class Charge
{
    public static string StreamId(string requestId) => $"request-{requestId}";

    /// <summary>
    /// Charges the cost, but never more than was reserved: the reservation is what the balance was checked
    /// against, so charging beyond it could take the balance below zero. Reservations carry a margin so the
    /// cap is the rare case; what it leaves uncharged is recorded with the charge, for finance to see.
    /// </summary>
    public static IReadOnlyList<object> Decide(RequestServed served, long cost, long reserved)
    {
        if (cost < 0)
            throw new DomainException("invalid_amount", "A charge cannot be negative.");
        if (reserved < 0)
            throw new DomainException("invalid_reservation", "A reservation cannot be negative.");
        var amount = Math.Min(cost, reserved);
        return [served, new CreditsCharged(served.WorkspaceId, served.RequestId, amount, served.KeyId, served.ModelUsed, served.At, cost - amount)];
    }
}
