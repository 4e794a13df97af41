using Infery.EventStore;

namespace Infery.Domain.Fallbacks;

/// <summary>A workspace chose which models to try, in order, when <see cref="Model"/> fails. An empty list means none.</summary>
[EventName("workspace.fallback_chain_set.v1")]
public sealed record FallbackChainSet(string WorkspaceId, string Model, IReadOnlyList<string> Fallbacks, string By, DateTimeOffset At);

/// <summary>A workspace dropped its own chain for <see cref="Model"/>; the catalog's default applies again.</summary>
[EventName("workspace.fallback_chain_cleared.v1")]
public sealed record FallbackChainCleared(string WorkspaceId, string Model, string By, DateTimeOffset At);

/// <summary>
/// One model of a request failed (or its circuit was open) and the next one in the chain was tried.
/// <see cref="Depth"/> is 1 for the first fallback; <see cref="Attempts"/> counts the upstream calls made to
/// <see cref="FromModel"/> (0 when its circuit was open). Recorded on the request's stream with its outcome.
/// </summary>
[EventName("request.fallback_fired.v1")]
public sealed record FallbackFired(
    string RequestId, string WorkspaceId, string FromModel, string ToModel, string Reason, int Depth, int Attempts, DateTimeOffset At);
