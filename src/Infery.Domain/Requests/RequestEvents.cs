using Infery.EventStore;

namespace Infery.Domain.Requests;

/// <summary>
/// A request a provider served. Token counts are normalised: prompt includes cached and cache-write tokens.
/// <see cref="Outcome"/> is "completed"; a stream cut short is "client_disconnected" when the client left,
/// "provider_failed_mid_stream" when the provider broke off, "gateway_shutdown" when the gateway stopped.
/// <see cref="PdfPagesConverted"/> counts the PDF pages the gateway turned into text and images for a model that
/// cannot read PDFs; each is charged at the per-page price beside the tokens.
/// </summary>
[EventName("request.served.v1")]
public sealed record RequestServed(
    string RequestId,
    string WorkspaceId,
    string KeyId,
    string? MemberId,
    string Endpoint,
    string ModelRequested,
    string ModelUsed,
    string Provider,
    int PromptTokens,
    int CachedTokens,
    int CacheWriteTokens,
    int CompletionTokens,
    long LatencyMs,
    int Status,
    bool Streamed,
    string Outcome,
    DateTimeOffset At,
    int PdfPagesConverted = 0);

/// <summary>A request no provider served: nothing was charged.</summary>
[EventName("request.failed.v1")]
public sealed record RequestFailed(
    string RequestId,
    string WorkspaceId,
    string KeyId,
    string Endpoint,
    string ModelRequested,
    int Status,
    string ErrorCode,
    long LatencyMs,
    DateTimeOffset At);

/// <summary>
/// One upstream call of a request failed. <see cref="Attempt"/> numbers the request's upstream calls from 1, across
/// its fallbacks. Recorded on the request's stream with its outcome: the calls a request made are these, plus the
/// one that served it, if one did.
/// </summary>
[EventName("request.upstream_attempt_failed.v1")]
public sealed record UpstreamAttemptFailed(
    string RequestId,
    string WorkspaceId,
    string Model,
    string Provider,
    int Attempt,
    string Reason,
    int? UpstreamStatus,
    string Message,
    DateTimeOffset At);
