using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Features.Admin;
using Infery.Api.Gateway.Fallbacks;
using Infery.Api.Http;
using Infery.Api.Infrastructure;
using Infery.Domain;
using Infery.Domain.Fallbacks;
using Infery.Domain.Workspaces;
using Infery.EventStore;
using Infery.Projections.Workspaces;
using Npgsql;

namespace Infery.Api.Features.Fallbacks;

/// <summary>Operators set, read and clear a workspace's fallback chain per model; without one, the catalog's default applies.</summary>
public static class FallbackChainsAdminApi
{
    public static RouteGroupBuilder MapFallbackChainsAdminApi(this RouteGroupBuilder admin)
    {
        // A catch-all so that slugs with a slash ("org/model") work.
        admin.MapPut("/workspaces/{id}/fallbacks/{**model}", Set);
        admin.MapGet("/workspaces/{id}/fallbacks/{**model}", Get);
        admin.MapDelete("/workspaces/{id}/fallbacks/{**model}", Clear);
        return admin;
    }

    public sealed record FallbackChainResponse(string Model, IReadOnlyList<string> Fallbacks, string Source);

    private static async Task<IResult> Set(
        string id, string model, HttpContext http, Aggregates aggregates, ModelCatalog catalog, FallbackChains chains, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(http.Request, JsonBody.AdminMaxBytes, ct);
        if (body is null)
            return error!.ToResult();
        if (ReadSlugs(body, "fallbacks") is not { } fallbacks)
            return ApiError.InvalidRequest("fallbacks must be an array of model slugs, e.g. [\"model-b\", \"model-c\"].", "fallbacks").ToResult();

        var served = catalog.All.Select(m => m.Slug).ToHashSet(StringComparer.Ordinal);
        var refused = await Run(aggregates, id, new SetFallbackChain(model, fallbacks, served, AdminAuth.Actor(http)), http, ct);
        if (refused is not null)
            return refused;
        chains.Forget(id);
        return TypedResults.Ok(new FallbackChainResponse(model, fallbacks, "workspace"));
    }

    private static async Task<IResult> Get(
        string id, string model, NpgsqlDataSource db, ModelCatalog catalog, FallbackChains chains, CancellationToken ct)
    {
        if (!Ids.IsWellFormed(id, "ws") || await WorkspaceQueries.FindAsync(db, id, ct) is null)
            return ApiError.NotFound($"No workspace {id}.", "id").ToResult();
        if (!catalog.TryGet(model, out _))
            return ApiError.ModelNotFound(model).ToResult();
        var chain = await chains.ForAsync(id, model, ct);
        return TypedResults.Ok(new FallbackChainResponse(model, chain.Fallbacks,
            chain.Source == FallbackChainSource.Workspace ? "workspace" : "default"));
    }

    private static async Task<IResult> Clear(string id, string model, HttpContext http, Aggregates aggregates, FallbackChains chains, CancellationToken ct)
    {
        var refused = await Run(aggregates, id, new ClearFallbackChain(model, AdminAuth.Actor(http)), http, ct);
        if (refused is not null)
            return refused;
        chains.Forget(id);
        return TypedResults.NoContent();
    }

    private static IReadOnlyList<string>? ReadSlugs(JsonObject body, string name)
    {
        if (body[name] is not JsonArray array)
            return null;
        var slugs = new List<string>(array.Count);
        foreach (var item in array)
        {
            if (item is not JsonValue value || !value.TryGetValue<string>(out var slug) || slug.Length is 0 or > 200)
                return null;
            slugs.Add(slug);
        }
        return slugs;
    }

    private static async Task<IResult?> Run(Aggregates aggregates, string id, FallbackChainCommand command, HttpContext http, CancellationToken ct)
    {
        if (!Ids.IsWellFormed(id, "ws"))
            return ApiError.NotFound($"No workspace {id}.", "id").ToResult();
        try
        {
            await aggregates.ExecuteAsync(Workspace.StreamId(id), "workspace", FallbackChainsState.Initial, FallbackChain.Evolve,
                (state, now) => FallbackChain.Decide(state, command, now),
                new EventMetadata(RequestId.Of(http), id, Actor: AdminAuth.Actor(http)), ct);
            return null;
        }
        catch (DomainException e)
        {
            return Aggregates.ToApiError(e).ToResult();
        }
    }
}
