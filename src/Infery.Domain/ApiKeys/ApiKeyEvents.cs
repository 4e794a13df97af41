using Infery.EventStore;

namespace Infery.Domain.ApiKeys;

/// <summary>Only the SHA-256 of the key is recorded; the plaintext is shown once and never stored.</summary>
[EventName("api_key.issued.v1")]
public sealed record ApiKeyIssued(
    string KeyId, string WorkspaceId, string Name, string HashHex, string Prefix, string Preset, int Rpm, string? MemberId, DateTimeOffset At);

[EventName("api_key.revoked.v1")]
public sealed record ApiKeyRevoked(string KeyId, string WorkspaceId, string HashHex, DateTimeOffset At);
