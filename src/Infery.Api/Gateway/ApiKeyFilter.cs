using Infery.Api.Gateway.Billing;
using Infery.Api.Http;

namespace Infery.Api.Gateway;

/// <summary>Endpoints behind an API key: authenticates and rate-limits, then hands the handler the <see cref="AuthorizedRequest"/>.</summary>
public static class ApiKeyFilter
{
    private const string ItemKey = "infery.authorized";

    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var billing = context.HttpContext.RequestServices.GetRequiredService<RequestBilling>();
            var (request, error) = await billing.AuthorizeAsync(context.HttpContext);
            if (request is null)
                return error!.ToResult();
            context.HttpContext.Items[ItemKey] = request;
            return await next(context);
        });

    public static AuthorizedRequest Authorized(this HttpContext context) => (AuthorizedRequest)context.Items[ItemKey]!;
}
