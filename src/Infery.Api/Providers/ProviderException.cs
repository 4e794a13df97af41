using Infery.Api.Http;

namespace Infery.Api.Providers;

public enum ProviderFailure
{
    /// <summary>Upstream 429.</summary>
    RateLimited,
    /// <summary>Upstream 503 or 529, or an overloaded error event mid-stream.</summary>
    Overloaded,
    /// <summary>Upstream 500, 502 or another 5xx.</summary>
    ServerError,
    /// <summary>Connect, first-byte or idle timeout.</summary>
    Timeout,
    /// <summary>Connection refused or reset, or a redirect (3xx) away from the configured address.</summary>
    Unreachable,
    /// <summary>Upstream 400/404/413/422: the request itself is at fault, so no fallback.</summary>
    BadRequest,
    /// <summary>Upstream 401/403: our provider key is wrong.</summary>
    Unauthorized,
    /// <summary>A body or stream event we cannot parse.</summary>
    Malformed,
}

/// <summary>
/// An upstream failed. Every adapter maps its provider's errors to one of these. A request the provider rejected keeps
/// the provider's own error code and param when it gave them in OpenAI's envelope, so a client matching on
/// <c>error.code</c> (<c>context_length_exceeded</c>, say) sees what it would calling the provider directly.
/// </summary>
public sealed class ProviderException(
    ProviderFailure failure, string message, int? upstreamStatus = null, TimeSpan? retryAfter = null, Exception? inner = null,
    string? upstreamCode = null, string? upstreamParam = null)
    : Exception(message, inner)
{
    public ProviderFailure Failure { get; } = failure;

    public string? UpstreamCode { get; } = upstreamCode;

    public string? UpstreamParam { get; } = upstreamParam;

    public int? UpstreamStatus { get; } = upstreamStatus;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>Failures of the upstream, not of the request: another model may serve it.</summary>
    public bool CanFallback => Failure is ProviderFailure.RateLimited or ProviderFailure.Overloaded
        or ProviderFailure.ServerError or ProviderFailure.Timeout or ProviderFailure.Unreachable;

    /// <summary>
    /// Worth asking the same model again before falling back: not after a timeout, whose wait is spent already,
    /// nor after a redirect, which would come again.
    /// </summary>
    public bool CanRetrySameModel => Failure != ProviderFailure.Timeout && UpstreamStatus is not (>= 300 and < 400);

    public ApiError ToApiError() => Failure switch
    {
        ProviderFailure.BadRequest => new(400, $"The provider rejected the request: {Message}", "invalid_request_error",
            UpstreamParam, UpstreamCode ?? "upstream_bad_request"),
        ProviderFailure.RateLimited => new(503, $"The provider is rate limiting: {Message}", "upstream_error", null, "upstream_rate_limited"),
        ProviderFailure.Overloaded => new(503, $"The provider is overloaded: {Message}", "upstream_error", null, "upstream_overloaded"),
        ProviderFailure.Timeout => new(504, $"The provider timed out: {Message}", "upstream_error", null, "upstream_timeout"),
        ProviderFailure.Unreachable => new(502, $"The provider could not be reached: {Message}", "upstream_error", null, "upstream_unreachable"),
        ProviderFailure.Unauthorized => new(502, "The gateway's credentials for this provider were rejected.", "upstream_error", null, "upstream_auth_failed"),
        ProviderFailure.Malformed => new(502, $"The provider sent a response the gateway could not read: {Message}", "upstream_error", null, "upstream_malformed_response"),
        _ => new(502, $"The provider failed: {Message}", "upstream_error", null, "upstream_error"),
    };
}
