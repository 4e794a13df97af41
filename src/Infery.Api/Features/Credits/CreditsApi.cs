using Infery.Api.Gateway.Billing;
using Infery.Api.Http;
using Infery.Domain.Credits;
using Infery.Projections.Workspaces;
using Npgsql;

namespace Infery.Api.Features.Credits;

/// <summary>Key holders read their workspace's balance and what is reserved by requests in flight.</summary>
public static class CreditsApi
{
    public static IEndpointRouteBuilder MapCreditsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/credits", Get);
        return app;
    }

    public sealed record CreditsResponse(string Object, string WorkspaceId, string Balance, string Reserved, string Available);

    private static async Task<IResult> Get(HttpContext http, RequestBilling billing, CreditAccounts accounts, NpgsqlDataSource db, CancellationToken ct)
    {
        var (request, error) = await billing.AuthorizeAsync(http);
        if (request is null)
            return error!.ToResult();
        var balance = (await WorkspaceQueries.BalanceAsync(db, request.Key.WorkspaceId, ct)).Balance;
        var reserved = accounts.ReservedBy(request.Key.WorkspaceId);
        return TypedResults.Ok(new CreditsResponse("credits", request.Key.WorkspaceId,
            MicroCredits.Format(balance), MicroCredits.Format(reserved), MicroCredits.Format(balance - reserved)));
    }
}
