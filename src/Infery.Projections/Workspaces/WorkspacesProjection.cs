using Infery.Domain.Workspaces;
using Infery.EventStore;
using Npgsql;

namespace Infery.Projections.Workspaces;

/// <summary>Workspaces and their members, written in the same transaction as their events.</summary>
public sealed class WorkspacesProjection : IInlineProjection
{
    public void Project(IReadOnlyList<EventEnvelope> events, NpgsqlBatch batch)
    {
        foreach (var envelope in events)
        {
            switch (envelope.Data)
            {
                case WorkspaceCreated e:
                    batch.Add("insert into workspaces (id, name, storage_limit_bytes, created_at) values ($1, $2, $3, $4)",
                        e.WorkspaceId, e.Name, (object?)e.StorageLimitBytes ?? DBNull.Value, e.At);
                    break;
                case WorkspaceRenamed e:
                    batch.Add("update workspaces set name = $2 where id = $1", e.WorkspaceId, e.Name);
                    break;
                case StorageLimitSet e:
                    batch.Add("update workspaces set storage_limit_bytes = $2 where id = $1",
                        e.WorkspaceId, (object?)e.StorageLimitBytes ?? DBNull.Value);
                    break;
                case MemberAdded e:
                    batch.Add("insert into members (id, workspace_id, email, name, created_at) values ($1, $2, $3, $4, $5)",
                        e.MemberId, e.WorkspaceId, e.Email, e.Name, e.At);
                    break;
            }
        }
    }
}
