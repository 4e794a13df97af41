using System.Text.Json.Nodes;
using Infery.Api.Chat.Parsing;
using Infery.Api.Http;
using static Infery.Api.Chat.Parsing.JsonFields;

namespace Infery.Api.Chat;

/// <summary>
/// The legacy POST /v1/completions, served as a chat request with the prompt as one user message,
/// and the chat responses and chunks turned back into text_completion objects.
/// </summary>
public static class LegacyCompletions
{
    /// <summary>OpenAI's default for /v1/completions, unlike chat which has none.</summary>
    public const int DefaultMaxTokens = 16;

    /// <summary>Legacy fields with no chat equivalent, and the value that asks for nothing and is allowed.</summary>
    private static readonly (string Name, JsonNode? Harmless)[] UnsupportedFields =
    [
        ("suffix", null),
        ("echo", false),
        ("logprobs", null),
        ("best_of", 1),
    ];

    public static ParseResult ParseCompletion(JsonNode? body)
    {
        if (body is not JsonObject obj)
            return ParseResult.Invalid(ApiError.InvalidRequest("The request body must be a JSON object."));
        if (DuplicateProperties.Find(obj) is { } at)
            return ParseResult.Invalid(ApiError.InvalidRequest("The request body repeats a property name in one object.", at.Length == 0 ? null : at));
        try
        {
            foreach (var (name, harmless) in UnsupportedFields)
            {
                if (Get(obj, name) is { } value && !JsonNode.DeepEquals(value, harmless))
                    throw new InvalidFieldException(name, $"`{name}` is not supported on /v1/completions by this gateway.");
            }
            return ChatRequestParser.Parse(ToChatBody(obj, ReadPrompt(obj)));
        }
        catch (InvalidFieldException e)
        {
            return ParseResult.Invalid(ApiError.InvalidRequest(e.Message, e.Param));
        }
    }

    private static string ReadPrompt(JsonObject body)
    {
        switch (Get(body, "prompt"))
        {
            case null:
                throw Missing("prompt");
            case JsonArray { Count: 0 }:
                throw new InvalidFieldException("prompt", "`prompt` must not be an empty array.");
            case JsonArray prompts when prompts.Any(p => p is JsonArray || p?.GetValueKind() == System.Text.Json.JsonValueKind.Number):
                throw new InvalidFieldException("prompt", "Token arrays are not supported in `prompt`; send the prompt as text.");
            case JsonArray { Count: > 1 }:
                throw new InvalidFieldException("prompt", "Only one prompt per request is supported; send one request per prompt.");
            case JsonArray prompts:
                return AsString(prompts[0], "prompt[0]");
            case var prompt:
                return AsString(prompt, "prompt");
        }
    }

    /// <summary>The equivalent chat body: every other field as sent, the prompt as the one user message.</summary>
    private static JsonObject ToChatBody(JsonObject completion, string prompt)
    {
        var chat = new JsonObject();
        foreach (var (name, value) in completion)
        {
            if (name is "prompt" or "messages" || UnsupportedFields.Any(f => f.Name == name))
                continue;
            chat[name] = value?.DeepClone();
        }
        chat["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt });
        if (Get(chat, "max_tokens") is null && Get(chat, "max_completion_tokens") is null)
            chat["max_tokens"] = DefaultMaxTokens;
        return chat;
    }

    /// <summary>A chat.completion body as a text_completion body.</summary>
    public static JsonObject ToTextCompletion(JsonObject chatCompletion) =>
        Convert(chatCompletion, choice => Get(choice, "message") as JsonObject);

    /// <summary>A chat.completion.chunk as a streamed text_completion: the same shape, with the delta's text.</summary>
    public static JsonObject ToTextCompletionChunk(JsonObject chatChunk) =>
        Convert(chatChunk, choice => Get(choice, "delta") as JsonObject);

    /// <summary>Copies every top-level field in order, rewriting the id, the object type and the choices.</summary>
    private static JsonObject Convert(JsonObject chat, Func<JsonObject, JsonObject?> messageOf)
    {
        var text = new JsonObject();
        foreach (var (name, value) in chat)
        {
            text[name] = name switch
            {
                "id" => CompletionId(value),
                "object" => "text_completion",
                "choices" => new JsonArray((value as JsonArray ?? []).OfType<JsonObject>().Select(c => ToTextChoice(c, messageOf)).ToArray()),
                _ => value?.DeepClone(),
            };
        }
        return text;
    }

    private static JsonNode ToTextChoice(JsonObject choice, Func<JsonObject, JsonObject?> messageOf)
    {
        var content = messageOf(choice) is { } message ? StringOrNull(Get(message, "content")) : null;
        var finishReason = StringOrNull(Get(choice, "finish_reason"));
        return new JsonObject
        {
            ["text"] = content ?? "",
            ["index"] = Get(choice, "index")?.DeepClone() ?? 0,
            ["logprobs"] = null,
            // Text completions know no tool calls; the model stopped of its own accord.
            ["finish_reason"] = finishReason is "tool_calls" or "function_call" ? "stop" : finishReason,
        };
    }

    private static string CompletionId(JsonNode? chatId)
    {
        var id = StringOrNull(chatId) ?? "";
        if (id.StartsWith("chatcmpl-", StringComparison.Ordinal))
            id = id["chatcmpl-".Length..];
        return id.StartsWith("cmpl-", StringComparison.Ordinal) ? id : "cmpl-" + id;
    }

    private static string? StringOrNull(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
