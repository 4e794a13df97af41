namespace Infery.Domain.ApiKeys;

public abstract record ApiKeyCommand;

/// <summary>Issue a key whose hash was computed by the caller; the plaintext never reaches the domain.</summary>
public sealed record IssueApiKey(string KeyId, string Name, string HashHex, string Prefix, string? Preset, int? Rpm, string? MemberId) : ApiKeyCommand;

public sealed record RevokeApiKey : ApiKeyCommand;

public sealed record ApiKeyState(string? KeyId, string? WorkspaceId, string? HashHex, bool Revoked)
{
    public static readonly ApiKeyState Initial = new(null, null, null, false);

    public bool Exists => KeyId is not null;
}

/// <summary>Rate-limit presets in requests per minute.</summary>
public static class RateLimitPresets
{
    public const string Custom = "custom";
    public const int MaxRpm = 100_000;

    public static readonly IReadOnlyDictionary<string, int> Rpm = new Dictionary<string, int>
    {
        ["free"] = 30,
        ["standard"] = 120,
        ["pro"] = 400,
    };
}

public static class ApiKey
{
    public static string StreamId(string keyId) => $"apikey-{keyId}";

    /// <param name="workspace">The workspace the key is issued in, as its own stream knows it.</param>
    public static IReadOnlyList<object> Decide(ApiKeyState state, Workspaces.WorkspaceState workspace, ApiKeyCommand command, DateTimeOffset now)
    {
        switch (command)
        {
            case IssueApiKey issue:
                if (state.Exists)
                    throw new DomainException("api_key_exists", "This key was issued already.");
                if (!workspace.Exists)
                    throw new DomainException("workspace_not_found", "No such workspace.");
                if (issue.MemberId is not null && !workspace.HasMember(issue.MemberId))
                    throw new DomainException("member_not_found", $"Member {issue.MemberId} does not belong to this workspace.", "member_id");
                var name = issue.Name.Trim();
                if (name.Length is 0 or > 200)
                    throw new DomainException("invalid_name", "name must be 1 to 200 characters.", "name");
                var (preset, rpm) = ResolveRateLimit(issue.Preset, issue.Rpm);
                return [new ApiKeyIssued(issue.KeyId, workspace.Id!, name, issue.HashHex, issue.Prefix, preset, rpm, issue.MemberId, now)];

            case RevokeApiKey:
                if (!state.Exists)
                    throw new DomainException("api_key_not_found", "No such API key.");
                return state.Revoked ? [] : [new ApiKeyRevoked(state.KeyId!, state.WorkspaceId!, state.HashHex!, now)];

            default:
                throw new ArgumentOutOfRangeException(nameof(command), command, "unknown API key command");
        }
    }

    public static ApiKeyState Evolve(ApiKeyState state, object @event) => @event switch
    {
        ApiKeyIssued e => new ApiKeyState(e.KeyId, e.WorkspaceId, e.HashHex, false),
        ApiKeyRevoked => state with { Revoked = true },
        _ => state,
    };

    /// <summary>A preset names its rpm; an rpm alone is a custom preset; neither means standard.</summary>
    private static (string Preset, int Rpm) ResolveRateLimit(string? preset, int? rpm)
    {
        if (rpm is { } custom)
        {
            if (custom is < 1 or > RateLimitPresets.MaxRpm)
                throw new DomainException("invalid_rpm", $"rpm must be between 1 and {RateLimitPresets.MaxRpm}.", "rpm");
            if (preset is not null && preset != RateLimitPresets.Custom)
                throw new DomainException("invalid_preset", "Give either a preset or a custom rpm, not both.", "rpm");
            return (RateLimitPresets.Custom, custom);
        }
        preset ??= "standard";
        return RateLimitPresets.Rpm.TryGetValue(preset, out var presetRpm)
            ? (preset, presetRpm)
            : throw new DomainException("invalid_preset", "preset must be one of free, standard, pro (or give rpm).", "preset");
    }
}
