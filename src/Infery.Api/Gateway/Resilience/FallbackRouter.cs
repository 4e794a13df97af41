using System.Runtime.ExceptionServices;
using Infery.Api.Catalog;
using Infery.Api.Http;
using Infery.Api.Providers;
using Infery.Domain.Fallbacks;
using Infery.Domain.Requests;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Infery.Api.Gateway.Resilience;

/// <summary>
/// How a request's chain of models went: the value and the call that produced it, or the error for the client;
/// either way, the fallbacks that fired on the way and, in <see cref="Route"/>, the events to record with the
/// request's outcome: each failed upstream call and each fallback, in the order they happened. With neither a value
/// nor an error, the caller's token cut the chain short, and the route holds the calls made until then.
/// </summary>
public sealed record RoutedCall<T>(T? Value, ChatCall? Served, IReadOnlyList<FallbackFired> Fallbacks, IReadOnlyList<object> Route, ApiError? Error)
    where T : class
{
    public bool CutShort => Value is null && Error is null;
}

/// <summary>
/// Tries the requested model, then each fallback, retrying a model with backoff while the attempt budget
/// lasts. Moves on for failures of the upstream (429, 5xx, 529, timeouts, unreachable, open circuit); a
/// failure of the request itself (e.g. an upstream 400) ends the chain and goes to the client as it is.
/// </summary>
public sealed class FallbackRouter(CircuitBreakers circuits, IOptions<ResilienceOptions> options, TimeProvider clock)
{
    /// <param name="call">The first attempt's call, naming the requested model; each attempt gets a copy naming its model.</param>
    /// <param name="chain">The requested model first, then the fallbacks able to take the request.</param>
    /// <param name="attempt">One upstream call; throws <see cref="ProviderException"/> on failure.</param>
    public async Task<RoutedCall<T>> RunAsync<T>(
        string requestId, string workspaceId, ChatCall call, IReadOnlyList<CatalogModel> chain,
        Func<ChatCall, CancellationToken, Task<T>> attempt, CancellationToken ct)
        where T : class
    {
        var fired = new List<FallbackFired>();
        var route = new List<object>();
        try
        {
            return await WalkAsync(requestId, workspaceId, call, chain, attempt, fired, route, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return new RoutedCall<T>(null, null, fired, route, null);
        }
    }

    /// <param name="fired">Each fallback, as it fires.</param>
    /// <param name="route">Each failed upstream call and each fallback, as they happen.</param>
    private async Task<RoutedCall<T>> WalkAsync<T>(
        string requestId, string workspaceId, ChatCall call, IReadOnlyList<CatalogModel> chain,
        Func<ChatCall, CancellationToken, Task<T>> attempt, List<FallbackFired> fired, List<object> route, CancellationToken ct)
        where T : class
    {
        var settings = options.Value;
        var reasons = new List<string>();
        var upstreamCalls = 0;
        ProviderException? lastFailure = null;

        for (var position = 0; position < chain.Count; position++)
        {
            var model = chain[position];
            var modelCall = call with { Model = model };
            var callsToModel = 0;
            string reason;
            while (true)
            {
                var outcome = await circuits.CallAsync(model, token => attempt(modelCall, token), ct);
                if (outcome.Exception is null)
                    return new RoutedCall<T>(outcome.Result, modelCall, fired, route, null);
                if (outcome.Exception is BrokenCircuitException)
                {
                    reason = "circuit_open";
                    break;
                }
                if (outcome.Exception is not ProviderException failure)
                {
                    ExceptionDispatchInfo.Throw(outcome.Exception);
                    return null!;
                }
                upstreamCalls++;
                callsToModel++;
                route.Add(new UpstreamAttemptFailed(requestId, workspaceId, model.Slug, model.Provider.Name, upstreamCalls, ReasonFor(failure),
                    failure.UpstreamStatus, Shortened(failure.Message), clock.GetUtcNow()));
                if (!failure.CanFallback)
                    return new RoutedCall<T>(null, null, fired, route, failure.ToApiError());
                lastFailure = failure;
                reason = ReasonFor(failure);
                if (callsToModel > settings.RetriesPerModel || upstreamCalls >= settings.MaxAttemptsPerRequest
                    || RetryDelay(failure, callsToModel, settings) is not { } delay)
                    break;
                await Task.Delay(delay, clock, ct);
            }

            reasons.Add(Describe(model, reason, lastFailure, callsToModel));
            if (upstreamCalls >= settings.MaxAttemptsPerRequest)
            {
                if (position + 1 < chain.Count)
                    reasons.Add($"attempt limit of {settings.MaxAttemptsPerRequest} upstream calls reached");
                break;
            }
            if (position + 1 < chain.Count)
            {
                var fallback = new FallbackFired(requestId, workspaceId, model.Slug, chain[position + 1].Slug, reason, fired.Count + 1, callsToModel,
                    clock.GetUtcNow());
                fired.Add(fallback);
                route.Add(fallback);
            }
        }

        // A model without fallbacks fails as its provider did, so the client sees the real cause.
        var error = chain.Count == 1
            ? lastFailure?.ToApiError() ?? new ApiError(503,
                $"{chain[0].Slug} failed repeatedly and is paused for a moment; retry shortly.", "upstream_error", null, "upstream_circuit_open")
            : new ApiError(503, $"Every model tried failed: {string.Join("; ", reasons)}.", "upstream_error", null, "all_providers_failed");
        return new RoutedCall<T>(null, null, fired, route, error);
    }

    public static string ReasonFor(ProviderException failure) => failure.Failure switch
    {
        ProviderFailure.RateLimited => "rate_limited",
        ProviderFailure.Overloaded => "overloaded",
        ProviderFailure.Timeout => "timeout",
        ProviderFailure.Unreachable => "unreachable",
        ProviderFailure.BadRequest => "bad_request",
        ProviderFailure.Unauthorized => "unauthorized",
        ProviderFailure.Malformed => "malformed_response",
        _ => "server_error",
    };

    /// <summary>An upstream's message as recorded: enough to tell the cause, not a whole error page.</summary>
    private static string Shortened(string message) => message.Length <= 300 ? message : string.Concat(message.AsSpan(0, 299), "…");

    private static string Describe(CatalogModel model, string reason, ProviderException? failure, int calls)
    {
        if (calls == 0)
            return $"{model.Slug}: {reason}";
        var status = failure?.UpstreamStatus is { } code ? $" {code}" : "";
        return $"{model.Slug}: {reason}{status} ({failure?.Message}){(calls > 1 ? $", {calls} calls" : "")}";
    }

    /// <summary>
    /// How long to wait before calling the same model again, or null to move on: some failures are not worth
    /// asking again (<see cref="ProviderException.CanRetrySameModel"/>), and a retry-after beyond the cap is
    /// better spent on the next model.
    /// </summary>
    private static TimeSpan? RetryDelay(ProviderException failure, int callsSoFar, ResilienceOptions settings)
    {
        if (!failure.CanRetrySameModel)
            return null;
        if (failure.RetryAfter is { } retryAfter)
            return retryAfter <= TimeSpan.FromMilliseconds(settings.MaxRetryAfterMs) ? retryAfter : null;
        var backoff = Math.Min(settings.RetryMaxDelayMs, settings.RetryBaseDelayMs * Math.Pow(2, callsSoFar - 1));
        return TimeSpan.FromMilliseconds(backoff / 2 + Random.Shared.NextDouble() * backoff / 2);
    }
}
