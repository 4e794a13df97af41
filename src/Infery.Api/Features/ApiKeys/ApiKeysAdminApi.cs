using Infery.Api.Features.Admin;
using Infery.Api.Gateway.Auth;
using Infery.Api.Http;
using Infery.Api.Infrastructure;
using Infery.Domain;
using Infery.Domain.ApiKeys;
using Infery.Domain.Workspaces;
using Infery.EventStore;

namespace Infery.Api.Features.ApiKeys;

/// <summary>Operators issue keys (the plaintext is in this one response only) and revoke them.</summary>
public static class ApiKeysAdminApi
{
    public static RouteGroupBuilder MapApiKeysAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/workspaces/{id}/keys", Issue);
        admin.MapDelete("/keys/{keyId}", Revoke);
        return admin;
    }

    public sealed record IssuedKeyResponse(string Id, string Key, string Name, string WorkspaceId, string Preset, int Rpm, string? MemberId);

    private static async Task<IResult> Issue(string id, HttpContext http, Aggregates aggregates, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(http.Request, JsonBody.AdminMaxBytes, ct);
        if (body is null)
            return error!.ToResult();
        var fields = new FieldReader(body);
        var name = fields.String("name", required: true, maxLength: 200);
        var preset = fields.String("preset", required: false, maxLength: 32);
        var rpm = fields.Long("rpm", required: false, min: 1, max: RateLimitPresets.MaxRpm);
        var memberId = fields.String("member_id", required: false, maxLength: 64);
        if (fields.Error is { } invalid)
            return invalid.ToResult();
        if (!Ids.IsWellFormed(id, "ws"))
            return ApiError.NotFound($"No workspace {id}.", "id").ToResult();

        var keyId = Ids.New("key");
        var plaintext = ApiKeySecret.NewKey();
        var command = new IssueApiKey(keyId, name!, ApiKeySecret.HashHex(plaintext), ApiKeySecret.DisplayPrefix(plaintext), preset, (int?)rpm, memberId);
        try
        {
            var (workspace, _) = await aggregates.LoadAsync(Workspace.StreamId(id), WorkspaceState.Initial, Workspace.Evolve, ct);
            var (_, events) = await aggregates.ExecuteAsync(ApiKey.StreamId(keyId), "api_key", ApiKeyState.Initial, ApiKey.Evolve,
                (state, now) => ApiKey.Decide(state, workspace, command, now),
                new EventMetadata(RequestId.Of(http), id, Actor: AdminAuth.Actor(http)), ct);
            var issued = (ApiKeyIssued)events[0];
            return TypedResults.Created($"/admin/v1/keys/{keyId}",
                new IssuedKeyResponse(keyId, plaintext, issued.Name, id, issued.Preset, issued.Rpm, issued.MemberId));
        }
        catch (DomainException e)
        {
            return Aggregates.ToApiError(e).ToResult();
        }
    }

    private static async Task<IResult> Revoke(string keyId, HttpContext http, Aggregates aggregates, CancellationToken ct)
    {
        if (!Ids.IsWellFormed(keyId, "key"))
            return ApiError.NotFound($"No API key {keyId}.", "key_id").ToResult();
        try
        {
            await aggregates.ExecuteAsync(ApiKey.StreamId(keyId), "api_key", ApiKeyState.Initial, ApiKey.Evolve,
                (state, now) => ApiKey.Decide(state, WorkspaceState.Initial, new RevokeApiKey(), now),
                new EventMetadata(RequestId.Of(http), Actor: AdminAuth.Actor(http)), ct);
            return TypedResults.NoContent();
        }
        catch (DomainException e)
        {
            return Aggregates.ToApiError(e).ToResult();
        }
    }
}
