using System.Text.Json.Serialization;
using Infery.EventStore;

namespace Infery.Domain.Credits;

/// <summary>A top-up. Amounts are micro-credits.</summary>
[EventName("credits.granted.v1")]
public sealed record CreditsGranted(string WorkspaceId, long Amount, string Reason, string By, DateTimeOffset At);

/// <summary>
/// What one request cost, appended with the request's own events once it was served. <see cref="Uncharged"/> is the
/// part of its cost above what was reserved for it, which is not charged (0 in events from before it was recorded).
/// </summary>
[EventName("credits.charged.v1")]
public sealed record CreditsCharged(string WorkspaceId, string RequestId, long Amount, string KeyId, string Model, DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Uncharged = 0);

/// <summary>Credits given back, optionally for a given request.</summary>
[EventName("credits.refunded.v1")]
public sealed record CreditsRefunded(string WorkspaceId, long Amount, string Reason, string By, string? RequestId, DateTimeOffset At);
