namespace Infery.Api.Gateway.Resilience;

/// <summary>
/// Retries, attempt cap and circuit breaking, from the configuration section "Resilience" (e.g. environment
/// variables Resilience__MaxAttemptsPerRequest=4, Resilience__Providers__openai__BreakDurationMs=60000).
/// </summary>
public sealed class ResilienceOptions
{
    public const string Section = "Resilience";

    /// <summary>Upstream calls one request may make, retries and fallbacks together. Skipping an open circuit costs none.</summary>
    public int MaxAttemptsPerRequest { get; set; } = 4;

    /// <summary>Further calls to the same model after a failure that allows fallback (except a timeout), before moving on.</summary>
    public int RetriesPerModel { get; set; } = 1;

    /// <summary>First retry waits about this long (with jitter, between half and all of it); each further retry doubles it.</summary>
    public int RetryBaseDelayMs { get; set; } = 200;

    public int RetryMaxDelayMs { get; set; } = 2_000;

    /// <summary>An upstream's retry-after is honoured up to this; asking for longer sends the request to the next model instead.</summary>
    public int MaxRetryAfterMs { get; set; } = 5_000;

    /// <summary>The breaker every upstream model gets unless <see cref="Providers"/> names its provider.</summary>
    public CircuitBreakerSettings CircuitBreaker { get; set; } = new();

    /// <summary>Breaker settings per provider name from the catalog; fields not given take the built-in defaults.</summary>
    public Dictionary<string, CircuitBreakerSettings> Providers { get; set; } = new(StringComparer.Ordinal);

    public CircuitBreakerSettings BreakerFor(string provider) => Providers.GetValueOrDefault(provider) ?? CircuitBreaker;
}

/// <summary>
/// A circuit opens when, within <see cref="SamplingDurationMs"/>, at least <see cref="MinimumThroughput"/> calls
/// were made and <see cref="FailureRatio"/> of them failed; it stays open for <see cref="BreakDurationMs"/>
/// (at least 500), then lets one trial call through.
/// </summary>
public sealed class CircuitBreakerSettings
{
    public double FailureRatio { get; set; } = 0.5;

    public int MinimumThroughput { get; set; } = 5;

    public int SamplingDurationMs { get; set; } = 30_000;

    public int BreakDurationMs { get; set; } = 30_000;
}
