namespace Infery.Api.Http;

/// <summary>
/// An error as clients see it: an HTTP status and OpenAI's envelope {"error":{message,type,param,code}}, and for
/// an error that passes, the seconds to wait before retrying (Retry-After).
/// </summary>
public sealed record ApiError(int Status, string Message, string Type, string? Param = null, string? Code = null, int? RetryAfterSeconds = null)
{
    public static ApiError InvalidRequest(string message, string? param = null, string? code = null) =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static ApiError ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, $"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error", "model", "model_not_found");

    public static ApiError InvalidApiKey(string message = "Invalid API key provided.") =>
        new(StatusCodes.Status401Unauthorized, message, "invalid_request_error", null, "invalid_api_key");

    public static ApiError InsufficientCredits(string message) =>
        new(StatusCodes.Status402PaymentRequired, message, "insufficient_credits", null, "insufficient_credits");

    public static ApiError NotFound(string message, string? param = null) =>
        new(StatusCodes.Status404NotFound, message, "invalid_request_error", param, "not_found");
}
