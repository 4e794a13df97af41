using System.Collections.Concurrent;
using Infery.Api.Catalog;
using Infery.Api.Providers;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace Infery.Api.Gateway.Resilience;

/// <summary>
/// One circuit per upstream endpoint — a provider and its upstream model, since overload is usually per model.
/// Only failures that allow fallback count (429, 5xx, timeouts, unreachable); a rejected request does not.
/// For a stream, the call ends at its first item, so what happens mid-stream is not counted.
/// </summary>
public sealed class CircuitBreakers(IOptions<ResilienceOptions> options, TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string Provider, string UpstreamModel), ResiliencePipeline> circuits = new();

    /// <summary>
    /// Runs the call through the model's circuit. An open circuit answers at once with a
    /// <see cref="BrokenCircuitException"/> in the outcome, without calling.
    /// </summary>
    public async ValueTask<Outcome<T>> CallAsync<T>(CatalogModel model, Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        var circuit = circuits.GetOrAdd((model.Provider.Name, model.UpstreamModel), key => Build(options.Value.BreakerFor(key.Provider)));
        var context = ResilienceContextPool.Shared.Get(ct);
        try
        {
            return await circuit.ExecuteOutcomeAsync(static async (context, call) =>
            {
                try
                {
                    return Outcome.FromResult(await call(context.CancellationToken));
                }
                catch (Exception e)
                {
                    return Outcome.FromException<T>(e);
                }
            }, context, call);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline Build(CircuitBreakerSettings settings) => new ResiliencePipelineBuilder { TimeProvider = clock }
        .AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            FailureRatio = settings.FailureRatio,
            MinimumThroughput = settings.MinimumThroughput,
            SamplingDuration = TimeSpan.FromMilliseconds(settings.SamplingDurationMs),
            BreakDuration = TimeSpan.FromMilliseconds(settings.BreakDurationMs),
            ShouldHandle = new PredicateBuilder().Handle<ProviderException>(e => e.CanFallback),
        })
        .Build();
}
