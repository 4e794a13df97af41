using System.Diagnostics;
using System.Globalization;
using Infery.Api.Gateway.Auth;
using Infery.Api.Gateway.RateLimiting;
using Infery.Api.Http;
using Infery.Domain.Credits;
using Infery.Domain.Requests;
using Infery.EventStore;

namespace Infery.Api.Gateway.Billing;

/// <summary>
/// A request whose key was accepted and whose rate limit allowed it. <see cref="RequestId"/> is what the client
/// sees in x-request-id (its own, if it sent one, so not necessarily unique); <see cref="StreamId"/> is the
/// request's own event stream, always new.
/// </summary>
public sealed record AuthorizedRequest(KeyEntry Key, string RequestId, long StartedAt)
{
    public string StreamId { get; } = Charge.StreamId(Guid.CreateVersion7().ToString("N"));
}

/// <summary>What a request was charged, and whether the charge is recorded yet or still owed.</summary>
public readonly record struct Settlement(long Charged, bool Recorded);

/// <summary>
/// The billing-first path every paid endpoint goes through: authenticate, rate-limit, reserve the worst
/// case before any provider is called, and settle from real usage. The client hears its cost only after
/// the charge is durable; nothing is charged for a request no provider served.
/// </summary>
public sealed class RequestBilling(
    KeyDirectory keys,
    KeyRateLimiter rateLimiter,
    CreditAccounts accounts,
    EventStore.EventStore store,
    OwedCharges owed,
    BillingGate gate,
    TimeProvider clock,
    ILogger<RequestBilling> logger)
{
    public async ValueTask<(AuthorizedRequest? Request, ApiError? Error)> AuthorizeAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length == 0)
            return (null, ApiError.InvalidApiKey("You didn't provide an API key. Send it as 'Authorization: Bearer inf_...'."));
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return (null, ApiError.InvalidApiKey("The Authorization header must be 'Bearer inf_...'."));

        var (key, retryAfter) = await keys.FindAsync(header[7..].Trim(), context.Connection.RemoteIpAddress, context.RequestAborted);
        if (retryAfter > TimeSpan.Zero)
        {
            context.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return (null, new ApiError(429, "Too many requests with unknown API keys from this address; retry later.",
                "rate_limit_error", null, "too_many_unknown_keys"));
        }
        if (key is null)
            return (null, ApiError.InvalidApiKey("Incorrect API key provided."));

        if (await rateLimiter.TryAcquireAsync(key.KeyId, key.Rpm, context.RequestAborted) is not { } rate)
            return (null, RateLimitUnavailable);
        var headers = context.Response.Headers;
        headers["x-ratelimit-limit-requests"] = rate.Limit.ToString();
        headers["x-ratelimit-remaining-requests"] = rate.Remaining.ToString();
        headers["x-ratelimit-reset-requests"] = $"{Math.Ceiling(rate.Reset.TotalSeconds)}s";
        if (!rate.Allowed)
        {
            headers.RetryAfter = Math.Ceiling(rate.Reset.TotalSeconds).ToString();
            return (null, new ApiError(429, $"Rate limit reached: {rate.Limit} requests per minute for this key.",
                "rate_limit_error", null, "rate_limit_exceeded"));
        }
        return (new AuthorizedRequest(key, RequestId.Of(context), Stopwatch.GetTimestamp()), null);
    }

    public async ValueTask<(Reservation? Reservation, ApiError? Error)> ReserveAsync(AuthorizedRequest request, long worstCase, CancellationToken ct)
    {
        if (!gate.IsOpen)
            return (null, BillingUnavailable);
        Reservation? reservation;
        try
        {
            reservation = await accounts.TryReserveAsync(request.Key.WorkspaceId, worstCase, ct);
        }
        catch (Exception e) when (BillingGate.IsOutage(e))
        {
            logger.LogWarning("credits for {RequestId} could not be leased: {Message}", request.RequestId, e.Message);
            gate.Close(e);
            return (null, BillingUnavailable);
        }
        return reservation is null
            ? (null, ApiError.InsufficientCredits(
                $"This request may cost up to {MicroCredits.Format(worstCase)} credits, more than the workspace has available. Add credits or lower max_tokens."))
            : (reservation, null);
    }

    /// <summary>
    /// Appends RequestServed and CreditsCharged (plus any <paramref name="extraEvents"/>) to the request's
    /// own stream and waits for the commit. Never cancelled by the client leaving: what was generated is charged.
    /// When the charge cannot be recorded, a request whose answer was withheld is charged nothing, and the error
    /// rises; one already <paramref name="delivered"/> owes its charge (<see cref="OwedCharges"/>), which is recorded
    /// later or logged to be recorded by hand.
    /// </summary>
    public async Task<Settlement> SettleAsync(
        AuthorizedRequest request, Reservation reservation, RequestServed served, long cost, IReadOnlyList<object>? extraEvents, bool delivered)
    {
        var events = Charge.Decide(served, cost, reservation.Amount);
        if (extraEvents is { Count: > 0 })
            events = [.. extraEvents, .. events];
        var decided = (CreditsCharged)events[^1];
        var charged = decided.Amount;
        if (decided.Uncharged > 0)
            logger.LogWarning("{RequestId} cost {Uncharged} micro-credits more than was reserved for it; that part is not charged", request.RequestId, decided.Uncharged);
        try
        {
            await AppendChargeAsync(request, events);
        }
        catch (Exception e)
        {
            if (BillingGate.IsOutage(e))
                gate.Close(e);
            if (!delivered)
            {
                reservation.Release();
                throw;
            }
            var charge = new OwedCharge(request.StreamId, request.RequestId, request.Key.WorkspaceId, request.Key.KeyId, events,
                Metadata(request), reservation.HandOver(), charged);
            if (owed.TryOwe(charge))
                logger.LogError("charge of delivered {RequestId} not recorded: {Message}; {Amount} micro-credits owed until it can be", request.RequestId, e.Message, charged);
            else
                charge.Reservation!.Release(); // Logged in full; one owed after the stop is kept in the journal for the next start.
            return new Settlement(charged, Recorded: false);
        }
        reservation.Release(charged);
        return new Settlement(charged, Recorded: true);
    }

    /// <summary>
    /// A commit whose connection broke may have gone through or not. The request's stream is new, so appending
    /// again settles it: the second append waits for the first transaction to end, then either collides with
    /// what it committed or records the charge itself. Answering "not recorded" after a commit that went through
    /// would let the client's retry be charged a second time.
    /// </summary>
    private async Task AppendChargeAsync(AuthorizedRequest request, IReadOnlyList<object> events)
    {
        try
        {
            await store.AppendOnceAsync(request.StreamId, events, Metadata(request), CancellationToken.None);
        }
        catch (Exception first) when (first is not ConcurrencyException)
        {
            // New requests are refused from now on, not after the second attempt has waited out its own timeout.
            if (BillingGate.IsOutage(first))
                gate.Close(first);
            logger.LogWarning(first, "charge for {RequestId} failed; appending it again to learn whether it was committed", request.RequestId);
            try
            {
                await store.AppendOnceAsync(request.StreamId, events, Metadata(request), CancellationToken.None);
            }
            catch (ConcurrencyException)
            {
                // The first commit went through.
            }
        }
    }

    /// <summary>Releases the reservation and records that no provider served the request; nothing is charged.</summary>
    public async Task FailAsync(AuthorizedRequest request, Reservation? reservation, string endpoint, string model, ApiError error, IReadOnlyList<object>? extraEvents = null)
    {
        reservation?.Release();
        var failed = new RequestFailed(request.RequestId, request.Key.WorkspaceId, request.Key.KeyId, endpoint, model,
            error.Status, error.Code ?? error.Type, ElapsedMs(request), clock.GetUtcNow());
        try
        {
            await store.AppendOnceAsync(request.StreamId, [.. extraEvents ?? [], failed], Metadata(request), CancellationToken.None);
        }
        catch (Exception e)
        {
            // The client gets its error either way; a lost failure record costs nobody credits.
            logger.LogWarning(e, "could not record the failure of {RequestId}", request.RequestId);
        }
    }

    private static readonly ApiError BillingUnavailable = new(503,
        "The gateway cannot record charges right now, so it takes no requests; nothing was charged. Retry shortly.",
        "server_error", null, "billing_unavailable", RetryAfterSeconds: 1);

    private static readonly ApiError RateLimitUnavailable = new(503,
        "The gateway cannot reach its database to count this key's requests right now; nothing was charged. Retry shortly.",
        "server_error", null, "database_unavailable", RetryAfterSeconds: 1);

    public static long ElapsedMs(AuthorizedRequest request) =>
        (long)Stopwatch.GetElapsedTime(request.StartedAt).TotalMilliseconds;

    private static EventMetadata Metadata(AuthorizedRequest request) =>
        new(RequestId: request.RequestId, WorkspaceId: request.Key.WorkspaceId, Actor: request.Key.KeyId);
}
