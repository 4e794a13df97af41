using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Npgsql;

namespace Infery.Api.Http;

/// <summary>
/// Writes <see cref="ApiError"/>s as OpenAI's envelope; an unreachable database is a 503 to retry, and anything else
/// unhandled a 500 envelope without details.
/// </summary>
public static class ErrorResults
{
    public static IResult ToResult(this ApiError error) => error.RetryAfterSeconds is null
        ? TypedResults.Json(new ErrorEnvelope(new ErrorBody(error.Message, error.Type, error.Param, error.Code)),
            ErrorJson.Default.ErrorEnvelope, statusCode: error.Status)
        : new WrittenError(error);

    private sealed class WrittenError(ApiError error) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => error.WriteAsync(httpContext.Response);
    }

    /// <summary>The envelope as a JSON object, e.g. for an error chunk in a stream.</summary>
    public static JsonObject ToJson(this ApiError error) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = error.Message,
            ["type"] = error.Type,
            ["param"] = error.Param,
            ["code"] = error.Code,
        },
    };

    public static Task WriteAsync(this ApiError error, HttpResponse response)
    {
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } seconds)
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return JsonSerializer.SerializeAsync(response.Body,
            new ErrorEnvelope(new ErrorBody(error.Message, error.Type, error.Param, error.Code)), ErrorJson.Default.ErrorEnvelope);
    }

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Infery.Api");

    public static IApplicationBuilder UseErrorEnvelopes(this IApplicationBuilder app)
    {
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                var error = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? new ApiError(413, "The request body is too large.", "invalid_request_error", null, "request_too_large")
                    : ApiError.InvalidRequest("The request could not be read: " + e.Message);
                await error.WriteAsync(context.Response);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; there is nobody to answer.
            }
            catch (NpgsqlException e) when (!context.Response.HasStarted && (e.IsTransient || e is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable }))
            {
                // The database is unreachable, or its schema not yet applied: a moment later the same request may work.
                Logger(context).LogWarning(e, "database unavailable on {Path} ({RequestId})", context.Request.Path, context.Items[RequestId.Header]);
                context.Response.Headers.RetryAfter = "1";
                await new ApiError(503, "The gateway cannot reach its database right now; retry shortly.", "server_error", null, "database_unavailable")
                    .WriteAsync(context.Response);
            }
            catch (Exception e) when (!context.Response.HasStarted)
            {
                Logger(context).LogError(e, "unhandled error on {Path} ({RequestId})", context.Request.Path, context.Items[RequestId.Header]);
                await new ApiError(500, "The server had an error while processing your request.", "server_error", null, "internal_error")
                    .WriteAsync(context.Response);
            }
        });
        app.UseStatusCodePages(async status =>
        {
            var response = status.HttpContext.Response;
            if (response.ContentLength is > 0 || response.ContentType is not null)
                return;
            var error = response.StatusCode switch
            {
                404 => new ApiError(404, $"Unknown request URL: {status.HttpContext.Request.Method} {status.HttpContext.Request.Path}.", "invalid_request_error", null, "unknown_url"),
                405 => new ApiError(405, $"Method {status.HttpContext.Request.Method} is not allowed here.", "invalid_request_error", null, "method_not_allowed"),
                415 => ApiError.InvalidRequest("Send the body as application/json.", null, "unsupported_media_type") with { Status = 415 },
                _ => new ApiError(response.StatusCode, "The request failed.", "invalid_request_error"),
            };
            await error.WriteAsync(response);
        });
        return app;
    }
}

public sealed record ErrorEnvelope(ErrorBody Error);

public sealed record ErrorBody(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ErrorEnvelope))]
internal sealed partial class ErrorJson : JsonSerializerContext;
