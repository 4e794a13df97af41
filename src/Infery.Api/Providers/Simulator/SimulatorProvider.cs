using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Infery.Api.Chat;

namespace Infery.Api.Providers.Simulator;

/// <summary>
/// The embedded, offline upstream. Replies are built from the request alone, so the same request always gets
/// the same reply, in OpenAI's exact body and chunk shapes. Upstream models: <c>sim-chat</c> and
/// <c>sim-claude</c> answer; <c>sim-flaky</c> is always overloaded, so fallbacks can be watched.
/// Test hooks in the last user message: <c>[[sim:fail]]</c> fails as overloaded before anything is sent;
/// <c>[[sim:fail-after:N]]</c> fails with a server error after N content chunks (and fails a non-streaming call).
/// </summary>
public sealed partial class SimulatorProvider : IChatProvider
{
    public const string SystemFingerprint = "fp_infery_sim";

    /// <summary>Longest piece of text in one stream chunk, so JSON without spaces is still streamed in parts.</summary>
    private const int MaxChunkChars = 12;

    private const int ExcerptWords = 20;

    /// <summary>JSON the simulated model writes: compact, with quotes and non-ASCII left readable.</summary>
    private static readonly JsonSerializerOptions ProducedJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public Task<ChatResult> CompleteAsync(ChatCall call, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var reply = Plan(call);
        if (reply.FailAfterChunks is not null)
            throw new ProviderException(ProviderFailure.ServerError, "simulated failure during generation", 500);

        var choices = new JsonArray();
        foreach (var choice in reply.Choices)
        {
            var message = new JsonObject
            {
                ["role"] = "assistant",
                ["content"] = choice.Content,
                ["refusal"] = null,
                ["annotations"] = new JsonArray(),
            };
            if (choice.ToolCall is { } toolCall)
                message["tool_calls"] = new JsonArray(ToolCallJson(toolCall, toolCall.Arguments, withIndex: false));
            choices.Add(new JsonObject
            {
                ["index"] = choice.Index,
                ["message"] = message,
                ["logprobs"] = null,
                ["finish_reason"] = choice.FinishReason,
            });
        }
        var completion = new JsonObject
        {
            ["id"] = call.ResponseId,
            ["object"] = "chat.completion",
            ["created"] = call.Created,
            ["model"] = call.Model.Slug,
            ["choices"] = choices,
            ["usage"] = UsageJson(reply.Usage),
            ["system_fingerprint"] = SystemFingerprint,
        };
        return Task.FromResult(new ChatResult(completion, reply.Usage));
    }

    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatCall call, [EnumeratorCancellation] CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var reply = Plan(call);
        var piecesSent = 0;
        foreach (var choice in reply.Choices)
        {
            var pieces = Pieces(choice.Content ?? choice.ToolCall!.Arguments);
            if (choice.ToolCall is { } toolCall)
            {
                var opening = new JsonObject
                {
                    ["role"] = "assistant",
                    ["content"] = null,
                    ["tool_calls"] = new JsonArray(ToolCallJson(toolCall, "", withIndex: true)),
                };
                yield return ChatStreamItem.Of(Chunk(call, choice.Index, opening, null));
            }
            else
                yield return ChatStreamItem.Of(Chunk(call, choice.Index, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null));

            foreach (var piece in pieces)
            {
                await Task.Yield();
                ct.ThrowIfCancellationRequested();
                if (piecesSent == reply.FailAfterChunks)
                    throw new ProviderException(ProviderFailure.ServerError, $"simulated failure after {piecesSent} chunks", 500);
                var delta = choice.ToolCall is null
                    ? new JsonObject { ["content"] = piece }
                    : new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = 0, ["function"] = new JsonObject { ["arguments"] = piece } }) };
                yield return ChatStreamItem.Of(Chunk(call, choice.Index, delta, null));
                piecesSent++;
            }
            if (reply.FailAfterChunks is not null && choice.Index == reply.Choices.Count - 1)
                throw new ProviderException(ProviderFailure.ServerError, $"simulated failure after {piecesSent} chunks", 500);
            yield return ChatStreamItem.Of(Chunk(call, choice.Index, new JsonObject(), choice.FinishReason));
        }
        yield return ChatStreamItem.Final(reply.Usage);
    }

    private sealed record SimulatedToolCall(string Id, string Name, string Arguments);

    /// <summary>One choice: text content or a tool call, already cut to max tokens.</summary>
    private sealed record SimulatedChoice(int Index, string? Content, SimulatedToolCall? ToolCall, string FinishReason);

    private sealed record SimulatedReply(IReadOnlyList<SimulatedChoice> Choices, TokenUsage Usage, int? FailAfterChunks);

    private static SimulatedReply Plan(ChatCall call)
    {
        var request = call.Request;
        var upstreamModel = call.Model.UpstreamModel;
        switch (upstreamModel)
        {
            case "sim-flaky":
                throw new ProviderException(ProviderFailure.Overloaded, "sim-flaky is always overloaded", 503);
            case "sim-chat" or "sim-claude":
                break;
            default:
                throw new ProviderException(ProviderFailure.BadRequest, $"the simulator has no model named '{upstreamModel}'", 404);
        }

        var lastUser = request.Messages.LastOrDefault(m => m.Role == "user");
        var userText = lastUser?.Text ?? "";
        if (userText.Contains("[[sim:fail]]", StringComparison.Ordinal))
            throw new ProviderException(ProviderFailure.Overloaded, "simulated overload", 503);
        var failMatch = FailAfterHook().Match(userText);
        int? failAfter = failMatch.Success ? int.Parse(failMatch.Groups[1].ValueSpan) : null;
        var cleanText = HookMarker().Replace(userText, "").Trim();

        var tool = ChosenTool(request);
        var choices = new List<SimulatedChoice>(request.N);
        var completionTokens = 0;
        for (var index = 0; index < request.N; index++)
        {
            var produced = tool is null
                ? CutAtStopSequence(ContentFor(call, cleanText, lastUser, index), request.Stop)
                : JsonSchemaSampler.Sample(tool.Parameters, Excerpt(cleanText, 6))?.ToJsonString(ProducedJson) ?? "null";
            var finishReason = tool is null ? "stop" : "tool_calls";
            if (request.MaxTokens is { } maxTokens && TokenEstimator.Count(produced) > maxTokens)
            {
                produced = TokenEstimator.Truncate(produced, maxTokens);
                finishReason = "length";
            }
            completionTokens += TokenEstimator.Count(produced);
            choices.Add(tool is null
                ? new SimulatedChoice(index, produced, null, finishReason)
                : new SimulatedChoice(index, null, new SimulatedToolCall(ToolCallId(call, tool.Name, index), tool.Name, produced), finishReason));
        }
        var usage = new TokenUsage(TokenEstimator.EstimatePrompt(request), completionTokens);
        return new SimulatedReply(choices, usage, failAfter);
    }

    /// <summary>The tool to call, or null to answer in text: a named tool_choice, else the first tool, unless
    /// tool_choice is none or the model has just been handed a tool's result.</summary>
    private static ToolDefinition? ChosenTool(ChatRequest request)
    {
        if (request.Tools.Count == 0 || request.ToolChoice?.Mode == "none" || request.Messages.LastOrDefault()?.Role == "tool")
            return null;
        if (request.ToolChoice?.FunctionName is not { } name)
            return request.Tools[0];
        return request.Tools.FirstOrDefault(t => t.Name == name)
            ?? throw new ProviderException(ProviderFailure.BadRequest, $"tool_choice names '{name}', which is not among the tools", 400);
    }

    private static string ContentFor(ChatCall call, string userText, ChatMessage? lastUser, int index)
    {
        var request = call.Request;
        var format = request.ResponseFormat;
        if (format?.Type == "json_schema")
            return JsonSchemaSampler.Sample(format.Schema, Excerpt(userText, 6))?.ToJsonString(ProducedJson) ?? "null";

        var answer = new StringBuilder(call.Model.UpstreamModel == "sim-claude"
            ? "Happy to help. This is a simulated reply."
            : "This is a simulated reply.");
        if (request.Messages.LastOrDefault() is { Role: "tool" } toolResult)
            answer.Append($" The tool {ToolNameOf(request, toolResult.ToolCallId)} returned \"{Excerpt(toolResult.Text, ExcerptWords)}\".");
        else if (userText.Length > 0)
            answer.Append($" You wrote {CountWords(userText)} words: \"{Excerpt(userText, ExcerptWords)}\".");
        else
            answer.Append(" Your message had no text.");
        if (lastUser is not null && DescribeAttachments(lastUser) is { } attachments)
            answer.Append($" It came with {attachments}.");
        answer.Append($" The conversation has {request.Messages.Count} {Plural(request.Messages.Count, "message", "messages")}.");
        if (request.N > 1)
            answer.Append($" This is choice {index + 1} of {request.N}.");

        if (format?.Type == "json_object")
            return new JsonObject { ["answer"] = answer.ToString() }.ToJsonString(ProducedJson);
        return answer.ToString();
    }

    private static string ToolNameOf(ChatRequest request, string? toolCallId) =>
        request.Messages.SelectMany(m => m.ToolCalls ?? []).FirstOrDefault(c => c.Id == toolCallId)?.Name ?? "you called";

    private static string? DescribeAttachments(ChatMessage message)
    {
        var images = message.Content.OfType<ImagePart>().Count();
        var audio = message.Content.OfType<AudioPart>().Count();
        var files = message.Content.OfType<FilePart>().ToList();
        var parts = new List<string>();
        if (images > 0)
            parts.Add($"{images} {Plural(images, "image", "images")}");
        if (audio > 0)
            parts.Add($"{audio} {Plural(audio, "audio clip", "audio clips")}");
        if (files.Count > 0)
        {
            var names = files.Select(f => f.Filename ?? f.FileId).OfType<string>().ToList();
            parts.Add($"{files.Count} {Plural(files.Count, "file", "files")}" + (names.Count > 0 ? $" ({string.Join(", ", names)})" : ""));
        }
        return parts.Count switch
        {
            0 => null,
            1 => parts[0],
            _ => string.Join(", ", parts[..^1]) + " and " + parts[^1],
        };
    }

    private static string Plural(int count, string one, string many) => count == 1 ? one : many;

    private static int CountWords(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    private static string Excerpt(string text, int maxWords)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return words.Length <= maxWords ? string.Join(' ', words) : string.Join(' ', words[..maxWords]) + "...";
    }

    /// <summary>Text up to the earliest stop sequence, which itself is left out, as OpenAI does.</summary>
    private static string CutAtStopSequence(string text, IReadOnlyList<string> stops)
    {
        var end = text.Length;
        foreach (var stop in stops.Where(s => s.Length > 0))
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && at < end)
                end = at;
        }
        return text[..end];
    }

    /// <summary>Stream pieces of a word or two, longer runs split so no piece exceeds <see cref="MaxChunkChars"/>.</summary>
    private static List<string> Pieces(string text)
    {
        var pieces = new List<string>();
        var start = 0;
        while (start < text.Length)
        {
            var end = EndOfWords(text, start, 2);
            if (end - start > MaxChunkChars)
            {
                end = start + MaxChunkChars;
                if (char.IsHighSurrogate(text[end - 1]))
                    end--;
            }
            pieces.Add(text[start..end]);
            start = end;
        }
        return pieces;
    }

    /// <summary>Where <paramref name="words"/> words starting at <paramref name="start"/> end, with the spaces after them.</summary>
    private static int EndOfWords(string text, int start, int words)
    {
        var i = start;
        for (var w = 0; w < words && i < text.Length; w++)
        {
            while (i < text.Length && !char.IsWhiteSpace(text[i]))
                i++;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
                i++;
        }
        return i;
    }

    /// <summary>call_ and 24 hex digits hashed from the conversation, so a repeated request repeats its ids.</summary>
    private static string ToolCallId(ChatCall call, string toolName, int choiceIndex)
    {
        var key = new StringBuilder(call.Model.UpstreamModel).Append('\n').Append(toolName).Append('\n').Append(choiceIndex);
        foreach (var message in call.Request.Messages)
            key.Append('\n').Append(message.Role).Append(':').Append(message.Text);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString()));
        return "call_" + Convert.ToHexStringLower(hash, 0, 12);
    }

    private static JsonObject ToolCallJson(SimulatedToolCall toolCall, string arguments, bool withIndex)
    {
        var json = new JsonObject();
        if (withIndex)
            json["index"] = 0;
        json["id"] = toolCall.Id;
        json["type"] = "function";
        json["function"] = new JsonObject { ["name"] = toolCall.Name, ["arguments"] = arguments };
        return json;
    }

    private static JsonObject Chunk(ChatCall call, int choiceIndex, JsonObject delta, string? finishReason) => new()
    {
        ["id"] = call.ResponseId,
        ["object"] = "chat.completion.chunk",
        ["created"] = call.Created,
        ["model"] = call.Model.Slug,
        ["system_fingerprint"] = SystemFingerprint,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = choiceIndex,
            ["delta"] = delta,
            ["logprobs"] = null,
            ["finish_reason"] = finishReason,
        }),
    };

    private static JsonObject UsageJson(TokenUsage usage) => new()
    {
        ["prompt_tokens"] = usage.PromptTokens,
        ["completion_tokens"] = usage.CompletionTokens,
        ["total_tokens"] = usage.TotalTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = usage.CachedTokens },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
    };

    [GeneratedRegex(@"\[\[sim:fail-after:(\d{1,9})\]\]")]
    private static partial Regex FailAfterHook();

    [GeneratedRegex(@"\[\[sim:[^\]]*\]\]")]
    private static partial Regex HookMarker();
}
