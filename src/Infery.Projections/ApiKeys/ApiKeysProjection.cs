using Infery.Domain.ApiKeys;
using Infery.EventStore;
using Npgsql;

namespace Infery.Projections.ApiKeys;

/// <summary>
/// The key directory: hash → key, workspace, member, preset, revoked. A revocation notifies
/// <see cref="RevokedChannel"/> with the key's hash at commit, so every gateway instance drops it from its cache.
/// </summary>
public sealed class ApiKeysProjection : IInlineProjection
{
    public const string RevokedChannel = "api_key_revoked";

    public void Project(IReadOnlyList<EventEnvelope> events, NpgsqlBatch batch)
    {
        foreach (var envelope in events)
        {
            switch (envelope.Data)
            {
                case ApiKeyIssued e:
                    batch.Add("""
                        insert into api_keys (id, workspace_id, hash, prefix, name, preset, rpm, member_id, created_at)
                        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                        """, e.KeyId, e.WorkspaceId, e.HashHex, e.Prefix, e.Name, e.Preset, e.Rpm, (object?)e.MemberId ?? DBNull.Value, e.At);
                    break;
                case ApiKeyRevoked e:
                    batch.Add("update api_keys set revoked_at = $2 where id = $1", e.KeyId, e.At);
                    batch.Add("select pg_notify($1, $2)", RevokedChannel, e.HashHex);
                    break;
            }
        }
    }
}
