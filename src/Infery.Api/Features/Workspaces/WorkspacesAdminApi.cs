using Infery.Api.Features.Admin;
using Infery.Api.Gateway.Billing;
using Infery.Api.Http;
using Infery.Api.Infrastructure;
using Infery.Domain;
using Infery.Domain.Credits;
using Infery.Domain.Workspaces;
using Infery.EventStore;
using Infery.Projections.Workspaces;
using Npgsql;

namespace Infery.Api.Features.Workspaces;

/// <summary>Operators create workspaces, add members and grant or refund credits.</summary>
public static class WorkspacesAdminApi
{
    public static RouteGroupBuilder MapWorkspacesAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/workspaces", Create);
        admin.MapGet("/workspaces/{id}", Get);
        admin.MapPost("/workspaces/{id}/members", AddMember);
        admin.MapPost("/workspaces/{id}/credits", Grant);
        admin.MapPost("/workspaces/{id}/refunds", Refund);
        return admin;
    }

    public sealed record WorkspaceResponse(
        string Id, string Name, string Balance, string Reserved, long StorageUsedBytes, long? StorageLimitBytes, DateTimeOffset CreatedAt);

    public sealed record MemberResponse(string Id, string WorkspaceId, string Email, string Name);

    public sealed record BalanceResponse(string Balance);

    private static async Task<IResult> Create(HttpContext http, Aggregates aggregates, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(http.Request, JsonBody.AdminMaxBytes, ct);
        if (body is null)
            return error!.ToResult();
        var fields = new FieldReader(body);
        var name = fields.String("name", required: true, maxLength: Workspace.MaxNameLength);
        var limit = fields.Long("storage_limit_bytes", required: false, min: 0, max: long.MaxValue);
        if (fields.Error is { } invalid)
            return invalid.ToResult();

        var id = Ids.New("ws");
        var (state, refused) = await Run(aggregates, id, new CreateWorkspace(id, name!, limit), http, ct);
        return refused ?? TypedResults.Created($"/admin/v1/workspaces/{id}",
            new WorkspaceResponse(id, state!.Name, MicroCredits.Format(0), MicroCredits.Format(0), 0, state.StorageLimitBytes, DateTimeOffset.UtcNow));
    }

    private static async Task<IResult> Get(string id, NpgsqlDataSource db, CreditAccounts accounts, CancellationToken ct)
    {
        var workspace = Ids.IsWellFormed(id, "ws") ? await WorkspaceQueries.FindAsync(db, id, ct) : null;
        if (workspace is null)
            return ApiError.NotFound($"No workspace {id}.", "id").ToResult();
        var balance = await WorkspaceQueries.BalanceAsync(db, id, ct);
        return TypedResults.Ok(new WorkspaceResponse(workspace.Id, workspace.Name, MicroCredits.Format(balance.Balance),
            MicroCredits.Format(accounts.ReservedBy(id)), workspace.StorageUsedBytes, workspace.StorageLimitBytes, workspace.CreatedAt));
    }

    private static async Task<IResult> AddMember(string id, HttpContext http, Aggregates aggregates, CancellationToken ct)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(http.Request, JsonBody.AdminMaxBytes, ct);
        if (body is null)
            return error!.ToResult();
        var fields = new FieldReader(body);
        var email = fields.String("email", required: true, maxLength: 320);
        var name = fields.String("name", required: true, maxLength: Workspace.MaxNameLength);
        if (fields.Error is { } invalid)
            return invalid.ToResult();

        var memberId = Ids.New("mem");
        var (state, refused) = await Run(aggregates, id, new AddMember(memberId, email!, name!), http, ct);
        return refused ?? TypedResults.Created($"/admin/v1/workspaces/{id}/members/{memberId}",
            new MemberResponse(memberId, id, state!.MemberEmailsById[memberId], name!.Trim()));
    }

    private static Task<IResult> Grant(string id, HttpContext http, Aggregates aggregates, NpgsqlDataSource db, CancellationToken ct) =>
        MoveCredits(id, http, aggregates, db, ct, (amount, reason, actor, _) => new GrantCredits(amount, reason, actor));

    private static Task<IResult> Refund(string id, HttpContext http, Aggregates aggregates, NpgsqlDataSource db, CancellationToken ct) =>
        MoveCredits(id, http, aggregates, db, ct, (amount, reason, actor, requestId) => new RefundCredits(amount, reason, actor, requestId));

    private static async Task<IResult> MoveCredits(
        string id, HttpContext http, Aggregates aggregates, NpgsqlDataSource db, CancellationToken ct,
        Func<long, string, string, string?, WorkspaceCommand> command)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(http.Request, JsonBody.AdminMaxBytes, ct);
        if (body is null)
            return error!.ToResult();
        var fields = new FieldReader(body);
        var amount = fields.Decimal("amount", required: true);
        var reason = fields.String("reason", required: true, maxLength: Workspace.MaxReasonLength);
        var requestId = fields.String("request_id", required: false, maxLength: 128);
        if (fields.Error is { } invalid)
            return invalid.ToResult();
        if (!MicroCredits.TryParse(amount!.Value, out var micro))
            return ApiError.InvalidRequest("amount has more than six decimal places.", "amount").ToResult();

        var (_, refused) = await Run(aggregates, id, command(micro, reason!, AdminAuth.Actor(http), requestId), http, ct);
        if (refused is not null)
            return refused;
        var balance = await WorkspaceQueries.BalanceAsync(db, id, ct);
        return TypedResults.Created($"/admin/v1/workspaces/{id}", new BalanceResponse(MicroCredits.Format(balance.Balance)));
    }

    /// <summary>Decides and appends the command on the workspace stream; a refusal comes back as a 4xx envelope.</summary>
    private static async Task<(WorkspaceState? State, IResult? Refused)> Run(
        Aggregates aggregates, string id, WorkspaceCommand command, HttpContext http, CancellationToken ct)
    {
        if (command is not CreateWorkspace && !Ids.IsWellFormed(id, "ws"))
            return (null, ApiError.NotFound($"No workspace {id}.", "id").ToResult());
        try
        {
            var (state, _) = await aggregates.ExecuteAsync(Workspace.StreamId(id), "workspace", WorkspaceState.Initial, Workspace.Evolve,
                (state, now) => Workspace.Decide(state, command, now),
                new EventMetadata(RequestId.Of(http), id, Actor: AdminAuth.Actor(http)), ct);
            return (state, null);
        }
        catch (DomainException e)
        {
            return (null, Aggregates.ToApiError(e).ToResult());
        }
    }
}
