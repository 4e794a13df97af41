using Infery.Domain.Fallbacks;
using Infery.EventStore;
using Npgsql;

namespace Infery.Projections.Fallbacks;

/// <summary>
/// Each workspace's own fallback chains. A change notifies <see cref="ChangedChannel"/> with the workspace id
/// at commit, so every gateway instance reloads that workspace's chains.
/// </summary>
public sealed class FallbackChainsProjection : IInlineProjection
{
    public const string ChangedChannel = "fallback_chain_changed";

    public void Project(IReadOnlyList<EventEnvelope> events, NpgsqlBatch batch)
    {
        foreach (var envelope in events)
        {
            switch (envelope.Data)
            {
                case FallbackChainSet e:
                    batch.Add("""
                        insert into fallback_chains (workspace_id, model, fallbacks, updated_at) values ($1, $2, $3, $4)
                        on conflict (workspace_id, model) do update set fallbacks = excluded.fallbacks, updated_at = excluded.updated_at
                        """, e.WorkspaceId, e.Model, e.Fallbacks.ToArray(), e.At);
                    batch.Add("select pg_notify($1, $2)", ChangedChannel, e.WorkspaceId);
                    break;
                case FallbackChainCleared e:
                    batch.Add("delete from fallback_chains where workspace_id = $1 and model = $2", e.WorkspaceId, e.Model);
                    batch.Add("select pg_notify($1, $2)", ChangedChannel, e.WorkspaceId);
                    break;
            }
        }
    }
}

public static class FallbackChainQueries
{
    /// <summary>The chains a workspace set itself, by model.</summary>
    public static async Task<Dictionary<string, IReadOnlyList<string>>> ForWorkspaceAsync(NpgsqlDataSource db, string workspaceId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("select model, fallbacks from fallback_chains where workspace_id = $1");
        cmd.Parameters.AddWithValue(workspaceId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var chains = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct))
            chains[reader.GetString(0)] = reader.GetFieldValue<string[]>(1);
        return chains;
    }
}
