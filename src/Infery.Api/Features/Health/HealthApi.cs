using Infery.Api.Gateway;
using Infery.Api.Infrastructure;

namespace Infery.Api.Features.Health;

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health");
        health.MapGet("/live", () => TypedResults.Ok(new HealthStatus("ok")));
        health.MapGet("/ready", Ready);
        return app;
    }

    private static async Task<IResult> Ready(Database database, ShutdownDrain drain, CancellationToken ct)
    {
        if (drain.Draining)
            return TypedResults.Json(new HealthStatus("shutting down"), statusCode: StatusCodes.Status503ServiceUnavailable);
        if (!await database.TakesWritesAsync(ct))
            return TypedResults.Json(new HealthStatus("database unreachable or read-only"), statusCode: StatusCodes.Status503ServiceUnavailable);
        if (!database.SchemaApplied)
            return TypedResults.Json(new HealthStatus("schema not applied yet"), statusCode: StatusCodes.Status503ServiceUnavailable);
        return TypedResults.Ok(new HealthStatus("ready"));
    }

    public sealed record HealthStatus(string Status);
}
