using Infery.EventStore;

namespace Infery.Domain.Credits;

/// <summary>A top-up. Amounts are micro-credits.</summary>
[EventName("credits.granted.v1")]
public sealed record CreditsGranted(string WorkspaceId, long Amount, string Reason, string By, DateTimeOffset At);

/// <summary>What one request cost, appended with the request's own events once it was served.</summary>
[EventName("credits.charged.v1")]
public sealed record CreditsCharged(string WorkspaceId, string RequestId, long Amount, string KeyId, string Model, DateTimeOffset At);

/// <summary>Credits given back, optionally for a given request.</summary>
[EventName("credits.refunded.v1")]
public sealed record CreditsRefunded(string WorkspaceId, long Amount, string Reason, string By, string? RequestId, DateTimeOffset At);
