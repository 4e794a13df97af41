using System.Text.Json.Nodes;

namespace Infery.Api.Http;

public static class ApiErrorResults
{
    /// <summary>The error as OpenAI's envelope, with all four keys present even when null.</summary>
    public static IResult ToResult(this ApiError error) =>
        TypedResults.Json(ToJson(error), statusCode: error.Status);

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
}
