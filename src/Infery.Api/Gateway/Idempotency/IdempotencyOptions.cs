namespace Infery.Api.Gateway.Idempotency;

/// <summary>From the configuration section "Idempotency".</summary>
public sealed class IdempotencyOptions
{
    public const string Section = "Idempotency";

    /// <summary>How long a key's first response is replayed.</summary>
    public int RetentionHours { get; set; } = 24;

    /// <summary>How long a retry waits for the first request with its key to finish before answering 409.</summary>
    public int WaitForInFlightMs { get; set; } = 30_000;

    /// <summary>A claim whose request never finished (its gateway died) may be taken over after this.</summary>
    public int AbandonedAfterMs { get; set; } = 10 * 60_000;
}
