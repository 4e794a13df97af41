using System.Security.Cryptography;
using System.Text;
using Infery.Api.Http;

namespace Infery.Api.Features.Admin;

/// <summary>Operators authenticate with INFERY_ADMIN_TOKEN. Without one configured, the admin API answers 401 to everyone.</summary>
public static class AdminAuth
{
    public static RouteGroupBuilder MapAdminGroup(this IEndpointRouteBuilder app)
    {
        var expected = app.ServiceProvider.GetRequiredService<IConfiguration>()["INFERY_ADMIN_TOKEN"];
        var expectedHash = string.IsNullOrEmpty(expected) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(expected));
        var group = app.MapGroup("/admin/v1");
        group.AddEndpointFilter(async (context, next) =>
        {
            var header = context.HttpContext.Request.Headers.Authorization.ToString();
            var given = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
            var givenHash = SHA256.HashData(Encoding.UTF8.GetBytes(given));
            if (expectedHash is null || !CryptographicOperations.FixedTimeEquals(expectedHash, givenHash))
                return new ApiError(401, "A valid admin token is required: 'Authorization: Bearer <INFERY_ADMIN_TOKEN>'.",
                    "invalid_request_error", null, "invalid_admin_token").ToResult();
            return await next(context);
        });
        return group;
    }

    /// <summary>Who did it, as recorded on the events an admin call appends.</summary>
    public static string Actor(HttpContext context) =>
        context.Request.Headers["x-admin-actor"].ToString() is { Length: > 0 and <= 200 } actor ? actor : "admin";
}
