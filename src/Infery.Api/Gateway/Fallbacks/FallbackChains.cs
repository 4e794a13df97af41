using System.Collections.Concurrent;
using Infery.Api.Catalog;
using Infery.Projections.Fallbacks;
using Npgsql;

namespace Infery.Api.Gateway.Fallbacks;

/// <summary>Where a model's chain comes from: the workspace's own setting, or the catalog's default.</summary>
public enum FallbackChainSource
{
    Workspace,
    Default,
}

public sealed record ResolvedFallbackChain(string Model, IReadOnlyList<string> Fallbacks, FallbackChainSource Source);

/// <summary>
/// The fallback chain for a workspace and model, from memory. A workspace's own chains are read once on
/// first use; this instance's admin writes and other instances' (by NOTIFY) drop the cached copy so the next
/// request reads it afresh. Without a workspace chain the catalog's default applies.
/// </summary>
public sealed class FallbackChains(NpgsqlDataSource db, ModelCatalog catalog)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<Dictionary<string, IReadOnlyList<string>>>>> byWorkspace = new(StringComparer.Ordinal);

    public async ValueTask<ResolvedFallbackChain> ForAsync(string workspaceId, string model, CancellationToken ct)
    {
        var loading = byWorkspace.GetOrAdd(workspaceId,
            id => new Lazy<Task<Dictionary<string, IReadOnlyList<string>>>>(() => FallbackChainQueries.ForWorkspaceAsync(db, id, CancellationToken.None)));
        Dictionary<string, IReadOnlyList<string>> chains;
        try
        {
            chains = loading.Value.IsCompletedSuccessfully ? loading.Value.Result : await loading.Value.WaitAsync(ct);
        }
        catch (Exception) when (loading.Value.IsFaulted)
        {
            byWorkspace.TryRemove(new(workspaceId, loading));
            throw;
        }
        return chains.TryGetValue(model, out var own)
            // A model dropped from the catalog since the chain was set is skipped, as in the default chains.
            ? new ResolvedFallbackChain(model, own.Where(slug => catalog.TryGet(slug, out _)).ToArray(), FallbackChainSource.Workspace)
            : new ResolvedFallbackChain(model, catalog.DefaultFallbacks(model), FallbackChainSource.Default);
    }

    /// <summary>The workspace's chains changed (here or on another instance): read them again on next use.</summary>
    public void Forget(string workspaceId) => byWorkspace.TryRemove(workspaceId, out _);

    /// <summary>After a lost LISTEN connection a change may have been missed.</summary>
    public void ForgetAll() => byWorkspace.Clear();
}
