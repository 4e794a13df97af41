using System.Text.Json;
using System.Text.Json.Nodes;

namespace Infery.Api.Providers.Gemini;

/// <summary>Gemini's google.rpc status body: {"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED","details":[…]}}.</summary>
internal sealed record GeminiError(int? Code, string? Status, string? Message, string? Reason)
{
    /// <summary>The reason Gemini gives, with a 400 status, for a key it does not accept.</summary>
    public bool IsInvalidApiKey => Reason == "API_KEY_INVALID";

    public string Describe()
    {
        var label = (Status, Reason) switch
        {
            (not null, not null) => $"{Status} ({Reason})",
            (not null, null) => Status,
            (null, not null) => Reason,
            _ => Code is { } code ? $"error {code}" : "error",
        };
        return string.IsNullOrWhiteSpace(Message) ? label : $"{label}: {Message}";
    }

    /// <summary>The HTTP status the error stands for: its code, else the code its status name implies.</summary>
    public int HttpStatus => Code ?? Status switch
    {
        "INVALID_ARGUMENT" or "FAILED_PRECONDITION" or "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "RESOURCE_EXHAUSTED" => 429,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => 500,
    };

    /// <summary>An error that arrived after the 200: in a stream event or a success body.</summary>
    public ProviderException ToException() => UpstreamHttp.FromStatus(HttpStatus, Describe());

    /// <summary>The error inside a body, or null when the body is not a google.rpc error.</summary>
    public static GeminiError? Parse(string body)
    {
        try
        {
            return JsonNode.Parse(body) is JsonObject obj ? From(obj) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static GeminiError? From(JsonObject body)
    {
        if (body["error"] is not JsonObject error)
            return null;
        var reason = (error["details"] as JsonArray)?
            .OfType<JsonObject>()
            .Select(detail => StringOrNull(detail["reason"]))
            .FirstOrDefault(r => r is not null);
        var code = error["code"] is JsonValue codeValue && codeValue.TryGetValue<int>(out var c) ? c : (int?)null;
        return new GeminiError(code, StringOrNull(error["status"]), StringOrNull(error["message"]), reason);
    }

    /// <summary>The message for an error status, whether or not the body is Gemini's JSON.</summary>
    public static string DescribeBody(string body)
    {
        if (Parse(body) is { } error)
            return error.Describe();
        var text = body.Trim();
        if (text.Length == 0)
            return "empty error body";
        return text.Length <= 300 ? text : text[..300] + "…";
    }

    private static string? StringOrNull(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
}
