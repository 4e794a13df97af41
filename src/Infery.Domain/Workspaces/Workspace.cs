using System.Collections.Immutable;
using Infery.Domain.Credits;

namespace Infery.Domain.Workspaces;

public abstract record WorkspaceCommand;
public sealed record CreateWorkspace(string WorkspaceId, string Name, long? StorageLimitBytes) : WorkspaceCommand;
public sealed record RenameWorkspace(string Name) : WorkspaceCommand;
public sealed record SetStorageLimit(long? StorageLimitBytes) : WorkspaceCommand;
public sealed record AddMember(string MemberId, string Email, string Name) : WorkspaceCommand;
public sealed record GrantCredits(long Amount, string Reason, string By) : WorkspaceCommand;
public sealed record RefundCredits(long Amount, string Reason, string By, string? RequestId) : WorkspaceCommand;

/// <summary>What the workspace stream knows: enough to decide its commands.</summary>
public sealed record WorkspaceState(
    string? Id,
    string Name,
    long? StorageLimitBytes,
    ImmutableDictionary<string, string> MemberEmailsById)
{
    public static readonly WorkspaceState Initial = new(null, "", null, ImmutableDictionary<string, string>.Empty);

    public bool Exists => Id is not null;

    public bool HasMember(string memberId) => MemberEmailsById.ContainsKey(memberId);
}

/// <summary>The workspace's rules: Decide(state, command, now) → events; Evolve(state, event) → state.</summary>
public static class Workspace
{
    public const int MaxNameLength = 200;
    public const int MaxReasonLength = 500;

    public static string StreamId(string workspaceId) => $"workspace-{workspaceId}";

    public static IReadOnlyList<object> Decide(WorkspaceState state, WorkspaceCommand command, DateTimeOffset now)
    {
        if (command is CreateWorkspace create)
        {
            if (state.Exists)
                throw new DomainException("workspace_exists", $"Workspace {state.Id} already exists.");
            return [new WorkspaceCreated(create.WorkspaceId, ValidName(create.Name, "name"), ValidLimit(create.StorageLimitBytes), now)];
        }

        if (!state.Exists)
            throw new DomainException("workspace_not_found", "No such workspace.");
        var id = state.Id!;
        return command switch
        {
            RenameWorkspace rename => [new WorkspaceRenamed(id, ValidName(rename.Name, "name"), now)],
            SetStorageLimit limit => [new StorageLimitSet(id, ValidLimit(limit.StorageLimitBytes), now)],
            AddMember member => [AddMemberEvent(state, member, now)],
            GrantCredits grant => [new CreditsGranted(id, ValidAmount(grant.Amount), ValidReason(grant.Reason), grant.By, now)],
            RefundCredits refund => [new CreditsRefunded(id, ValidAmount(refund.Amount), ValidReason(refund.Reason), refund.By, refund.RequestId, now)],
            _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown workspace command"),
        };
    }

    public static WorkspaceState Evolve(WorkspaceState state, object @event) => @event switch
    {
        WorkspaceCreated e => state with { Id = e.WorkspaceId, Name = e.Name, StorageLimitBytes = e.StorageLimitBytes },
        WorkspaceRenamed e => state with { Name = e.Name },
        StorageLimitSet e => state with { StorageLimitBytes = e.StorageLimitBytes },
        MemberAdded e => state with { MemberEmailsById = state.MemberEmailsById.SetItem(e.MemberId, e.Email) },
        _ => state,
    };

    private static MemberAdded AddMemberEvent(WorkspaceState state, AddMember member, DateTimeOffset now)
    {
        var email = member.Email.Trim();
        if (email.Length is 0 or > 320 || email.IndexOf('@') is <= 0 || email.EndsWith('@'))
            throw new DomainException("invalid_email", "email must be an e-mail address.", "email");
        if (state.MemberEmailsById.Values.Any(e => string.Equals(e, email, StringComparison.OrdinalIgnoreCase)))
            throw new DomainException("member_exists", $"A member with e-mail {email} already belongs to this workspace.", "email");
        return new MemberAdded(state.Id!, member.MemberId, email, ValidName(member.Name, "name"), now);
    }

    private static string ValidName(string name, string param)
    {
        var trimmed = name.Trim();
        if (trimmed.Length is 0 or > MaxNameLength)
            throw new DomainException("invalid_name", $"{param} must be 1 to {MaxNameLength} characters.", param);
        return trimmed;
    }

    private static long? ValidLimit(long? bytes) => bytes is < 0
        ? throw new DomainException("invalid_storage_limit", "storage_limit_bytes must not be negative.", "storage_limit_bytes")
        : bytes;

    private static long ValidAmount(long amount) => amount is <= 0 or > MicroCredits.MaxGrant
        ? throw new DomainException("invalid_amount", "amount must be more than 0 and at most 1,000,000,000 credits.", "amount")
        : amount;

    private static string ValidReason(string reason)
    {
        var trimmed = reason.Trim();
        if (trimmed.Length is 0 or > MaxReasonLength)
            throw new DomainException("invalid_reason", $"reason must be 1 to {MaxReasonLength} characters.", "reason");
        return trimmed;
    }
}
