using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Infery.Api.Providers.Gemini;

/// <summary>Reads a Gemini GenerateContentResponse; shared by whole responses and stream events.</summary>
internal static class GeminiResponseTranslator
{
    /// <summary>A whole generateContent body as an OpenAI chat.completion.</summary>
    public static ChatResult ToResult(string body, ChatCall call)
    {
        var response = ParseResponse(body);
        try
        {
            var choices = ToChoices(response);
            var reported = ReadUsage(response);
            // A response without usageMetadata is billed by estimate, as other providers' are, never as free.
            var usage = reported?.ToTokenUsage() ?? new TokenUsage(
                TokenEstimator.EstimatePrompt(call.Request, call.Model.ImageTokenFactor), TokenEstimator.FromChars(ChatJson.GeneratedChars(choices, "message")));
            var completion = new JsonObject
            {
                ["id"] = call.ResponseId,
                ["object"] = "chat.completion",
                ["created"] = call.Created,
                ["model"] = call.Model.Slug,
                ["choices"] = choices,
                ["usage"] = reported?.ToOpenAiUsage() ?? usage.ToOpenAiJson(),
            };
            return new ChatResult(completion, usage);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw Malformed($"unexpected shape: {e.Message}", e);
        }
    }

    /// <summary>A response object, or the error it carries thrown as a <see cref="ProviderException"/>.</summary>
    public static JsonObject ParseResponse(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw Malformed("the body is not JSON", e);
        }
        if (node is not JsonObject response)
            throw Malformed("the body is not a JSON object");
        if (GeminiError.From(response) is { } error)
            throw error.ToException();
        return response;
    }

    private static JsonArray ToChoices(JsonObject response)
    {
        var candidates = Candidates(response);
        if (candidates.Count == 0)
        {
            if (BlockReason(response) is null)
                throw Malformed("the response has neither candidates nor a block reason");
            return
            [
                new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = null },
                    ["logprobs"] = null,
                    ["finish_reason"] = "content_filter",
                },
            ];
        }

        var choices = new JsonArray();
        for (var position = 0; position < candidates.Count; position++)
        {
            var candidate = candidates[position];
            var content = ReadContent(candidate);
            var message = new JsonObject { ["role"] = "assistant", ["content"] = content.Text };
            if (content.FunctionCalls.Count > 0)
                message["tool_calls"] = new JsonArray([.. content.FunctionCalls.Select(call => (JsonNode)call.ToOpenAiToolCall())]);
            choices.Add(new JsonObject
            {
                ["index"] = CandidateIndex(candidate, position),
                ["message"] = message,
                ["logprobs"] = null,
                ["finish_reason"] = FinishReason(candidate, content.FunctionCalls.Count > 0),
            });
        }
        return choices;
    }

    public static IReadOnlyList<JsonObject> Candidates(JsonObject response) => response["candidates"] switch
    {
        null => [],
        JsonArray array => [.. array.Select(c => c as JsonObject ?? throw Malformed("a candidate is not an object"))],
        _ => throw Malformed("candidates is not an array"),
    };

    /// <summary>Proto3 JSON leaves out an index of 0, so a missing index means the candidate's position.</summary>
    public static int CandidateIndex(JsonObject candidate, int position) => candidate["index"]?.GetValue<int>() ?? position;

    public static string? BlockReason(JsonObject response) => response["promptFeedback"]?["blockReason"]?.GetValue<string>();

    public static CandidateContent ReadContent(JsonObject candidate)
    {
        StringBuilder? text = null;
        var functionCalls = new List<FunctionCall>();
        foreach (var part in candidate["content"]?["parts"]?.AsArray() ?? [])
        {
            if (part is not JsonObject p)
                continue;
            // Thought summaries are reasoning, not the answer; they are billed through thoughtsTokenCount.
            if (p["thought"]?.GetValue<bool>() == true)
                continue;
            if (p["text"] is { } textNode)
                (text ??= new StringBuilder()).Append(textNode.GetValue<string>());
            if (p["functionCall"] is JsonObject functionCall)
                functionCalls.Add(new FunctionCall(
                    functionCall["name"]?.GetValue<string>() ?? throw Malformed("a functionCall has no name"),
                    functionCall["args"]?.ToJsonString() ?? "{}"));
        }
        return new CandidateContent(text?.ToString(), functionCalls);
    }

    /// <summary>Gemini finishes a function call with STOP, so any call present decides the reason.</summary>
    public static string FinishReason(JsonObject candidate, bool hasToolCalls) =>
        hasToolCalls ? "tool_calls" : candidate["finishReason"]?.GetValue<string>() switch
        {
            "MAX_TOKENS" => "length",
            "SAFETY" or "RECITATION" or "LANGUAGE" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII"
                or "IMAGE_SAFETY" or "OTHER" => "content_filter",
            _ => "stop",
        };

    /// <summary>Null without usageMetadata, or with one that holds no count: no count is not a count of zero.</summary>
    public static GeminiUsage? ReadUsage(JsonObject response)
    {
        if (response["usageMetadata"] is not JsonObject usage
            || !(usage.ContainsKey("promptTokenCount") || usage.ContainsKey("candidatesTokenCount") || usage.ContainsKey("thoughtsTokenCount")))
            return null;
        return new GeminiUsage(
            Count(usage, "promptTokenCount"),
            Count(usage, "candidatesTokenCount"),
            Count(usage, "thoughtsTokenCount"),
            Count(usage, "cachedContentTokenCount"));

        static int Count(JsonObject usage, string name) => usage[name]?.GetValue<int>() ?? 0;
    }

    public static ProviderException Malformed(string message, Exception? inner = null) =>
        new(ProviderFailure.Malformed, message, inner: inner);
}

internal sealed record CandidateContent(string? Text, IReadOnlyList<FunctionCall> FunctionCalls);

/// <summary>A function call from Gemini, which has no call ids: each gets a fresh OpenAI-style one.</summary>
internal sealed record FunctionCall(string Name, string Arguments)
{
    public string Id { get; } = "call_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    public JsonObject ToOpenAiToolCall() => new()
    {
        ["id"] = Id,
        ["type"] = "function",
        ["function"] = new JsonObject { ["name"] = Name, ["arguments"] = Arguments },
    };
}

/// <summary>
/// Gemini's usageMetadata. promptTokenCount already includes cached tokens, and thinking tokens are counted
/// apart from candidatesTokenCount though they are billed as output.
/// </summary>
internal sealed record GeminiUsage(int PromptTokens, int CandidatesTokens, int ThoughtsTokens, int CachedTokens)
{
    public int CompletionTokens => CandidatesTokens + ThoughtsTokens;

    public TokenUsage ToTokenUsage() => new(PromptTokens, CompletionTokens, CachedTokens);

    public JsonObject ToOpenAiUsage() => new()
    {
        ["prompt_tokens"] = PromptTokens,
        ["completion_tokens"] = CompletionTokens,
        ["total_tokens"] = PromptTokens + CompletionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = CachedTokens },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = ThoughtsTokens },
    };
}
