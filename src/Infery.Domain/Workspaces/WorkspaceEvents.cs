using Infery.EventStore;

namespace Infery.Domain.Workspaces;

[EventName("workspace.created.v1")]
public sealed record WorkspaceCreated(string WorkspaceId, string Name, long? StorageLimitBytes, DateTimeOffset At);

[EventName("workspace.renamed.v1")]
public sealed record WorkspaceRenamed(string WorkspaceId, string Name, DateTimeOffset At);

[EventName("workspace.storage_limit_set.v1")]
public sealed record StorageLimitSet(string WorkspaceId, long? StorageLimitBytes, DateTimeOffset At);

[EventName("workspace.member_added.v1")]
public sealed record MemberAdded(string WorkspaceId, string MemberId, string Email, string Name, DateTimeOffset At);
