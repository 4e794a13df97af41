using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Infery.Api.Providers.Anthropic;

/// <summary>Turns an Anthropic message into an OpenAI chat.completion, and Anthropic errors into messages.</summary>
internal static class AnthropicResponseMapper
{
    /// <summary>Tool arguments and JSON-mode content are re-serialised; keep non-ASCII text readable.</summary>
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static ChatResult Map(ChatCall call, string responseBody, bool jsonMode)
    {
        var message = Parse(responseBody);
        if (message["content"] is not JsonArray content || message["usage"] is not JsonObject usageNode)
            throw Malformed("the response has no content or usage");

        var text = new System.Text.StringBuilder();
        string? jsonContent = null;
        var toolCalls = new JsonArray();
        foreach (var block in content.OfType<JsonObject>())
        {
            switch (String(block, "type"))
            {
                case "text":
                    text.Append(String(block, "text"));
                    break;
                case "tool_use" when jsonMode && String(block, "name") == AnthropicRequestMapper.JsonToolName:
                    jsonContent = ToolInputJson(block);
                    break;
                case "tool_use":
                    toolCalls.Add(new JsonObject
                    {
                        ["id"] = String(block, "id") ?? throw Malformed("a tool_use block has no id"),
                        ["type"] = "function",
                        ["function"] = new JsonObject
                        {
                            ["name"] = String(block, "name") ?? throw Malformed("a tool_use block has no name"),
                            ["arguments"] = ToolInputJson(block),
                        },
                    });
                    break;
            }
        }

        var assistant = new JsonObject
        {
            ["role"] = "assistant",
            ["content"] = jsonContent ?? (text.Length > 0 || toolCalls.Count == 0 ? text.ToString() : null),
        };
        if (toolCalls.Count > 0)
            assistant["tool_calls"] = toolCalls;

        // An empty usage is no count, so the reply is billed by estimate, as other providers' are, never as free.
        var usage = HasCounts(usageNode)
            ? Usage(usageNode, start: null)
            : new TokenUsage(TokenEstimator.EstimatePrompt(call.Request, call.Model.ImageTokenFactor),
                TokenEstimator.FromChars(text.Length + (jsonContent?.Length ?? 0)
                    + toolCalls.Sum(t => t!["function"]!["arguments"]!.GetValue<string>().Length)));
        var completion = new JsonObject
        {
            ["id"] = call.ResponseId,
            ["object"] = "chat.completion",
            ["created"] = call.Created,
            ["model"] = call.Model.Slug,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = assistant,
                ["logprobs"] = null,
                ["finish_reason"] = FinishReason(String(message, "stop_reason"), toolCalls.Count > 0),
            }),
            ["usage"] = usage.ToOpenAiJson(),
        };
        return new ChatResult(completion, usage);
    }

    /// <summary>
    /// OpenAI's finish_reason. A tool_use stop with no tool calls for the client is the forced JSON tool,
    /// which the client sees as plain content.
    /// </summary>
    public static string FinishReason(string? stopReason, bool hasToolCalls) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" when hasToolCalls => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    };

    /// <summary>
    /// Anthropic's input_tokens exclude cached tokens; OpenAI's prompt_tokens include them. Counts absent
    /// from <paramref name="usage"/> keep their value from <paramref name="start"/> (a stream's message_start).
    /// </summary>
    /// <summary>Whether a usage object holds any count at all: an empty one is no usage, not a count of zero.</summary>
    public static bool HasCounts(JsonObject usage) =>
        usage.ContainsKey("input_tokens") || usage.ContainsKey("output_tokens")
        || usage.ContainsKey("cache_read_input_tokens") || usage.ContainsKey("cache_creation_input_tokens");

    public static TokenUsage Usage(JsonObject usage, TokenUsage? start)
    {
        var input = Int(usage, "input_tokens") ?? start?.UncachedPromptTokens ?? 0;
        var cacheRead = Int(usage, "cache_read_input_tokens") ?? start?.CachedTokens ?? 0;
        var cacheWrite = Int(usage, "cache_creation_input_tokens") ?? start?.CacheWriteTokens ?? 0;
        var output = Int(usage, "output_tokens") ?? start?.CompletionTokens ?? 0;
        return new TokenUsage(input + cacheRead + cacheWrite, output, cacheRead, cacheWrite);
    }

    /// <summary>An error body <c>{"type":"error","error":{"type","message"}}</c> as one line for logs and clients.</summary>
    public static string DescribeError(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
            return "no error body";
        try
        {
            if (JsonNode.Parse(body)?["error"] is JsonObject error)
                return $"{String(error, "type") ?? "error"}: {String(error, "message") ?? "(no message)"}";
        }
        catch (JsonException)
        {
        }
        return body.Length <= 300 ? body : body[..300] + "…";
    }

    public static ProviderFailure StreamErrorFailure(string? errorType) => errorType switch
    {
        "overloaded_error" => ProviderFailure.Overloaded,
        "rate_limit_error" => ProviderFailure.RateLimited,
        _ => ProviderFailure.ServerError,
    };

    public static JsonObject Parse(string json)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw Malformed("expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new ProviderException(ProviderFailure.Malformed, "the provider sent invalid JSON", inner: e);
        }
    }

    public static ProviderException Malformed(string message) => new(ProviderFailure.Malformed, message);

    public static string? String(JsonObject node, string name) =>
        node[name] is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    private static int? Int(JsonObject node, string name) =>
        node[name] is JsonValue value && value.TryGetValue<int>(out var n) ? n : null;

    private static string ToolInputJson(JsonObject toolUse) =>
        toolUse["input"] is JsonObject input ? input.ToJsonString(Compact) : "{}";
}
