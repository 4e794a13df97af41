using System.Text.Json.Nodes;
using Infery.Api.Chat.Parsing;
using Infery.Api.Http;
using static Infery.Api.Chat.Parsing.JsonFields;

namespace Infery.Api.Chat;

/// <summary>
/// Validates an OpenAI Chat Completions request body. Any input, however malformed, gives either a
/// <see cref="ChatRequest"/> or a 400 whose <c>param</c> names the first bad field in OpenAI's path style.
/// Fields this gateway does not know are allowed and stay in <see cref="ChatRequest.Body"/>.
/// </summary>
public static class ChatRequestParser
{
    public static ParseResult Parse(JsonNode? body)
    {
        if (body is not JsonObject obj)
            return ParseResult.Invalid(ApiError.InvalidRequest("The request body must be a JSON object."));
        if (DuplicateProperties.Find(obj) is { } at)
            return ParseResult.Invalid(ApiError.InvalidRequest("The request body repeats a property name in one object.", at.Length == 0 ? null : at));
        try
        {
            return ParseResult.Valid(Read(obj));
        }
        catch (InvalidFieldException e)
        {
            return ParseResult.Invalid(ApiError.InvalidRequest(e.Message, e.Param));
        }
    }

    private static ChatRequest Read(JsonObject body)
    {
        var model = RequiredString(body, "", "model");
        if (string.IsNullOrWhiteSpace(model))
            throw new InvalidFieldException("model", "`model` must not be empty.");
        var messages = MessageParser.Parse(body);
        var stream = OptionalBool(body, "", "stream") ?? false;
        var tools = ToolParser.ParseTools(body);

        return new ChatRequest
        {
            Body = body,
            Model = model,
            Messages = messages,
            Stream = stream,
            IncludeUsage = ReadIncludeUsage(body, stream),
            MaxTokens = ReadMaxTokens(body),
            Temperature = OptionalNumber(body, "", "temperature", 0, 2),
            TopP = OptionalNumber(body, "", "top_p", 0, 1),
            TopK = (int?)OptionalInteger(body, "", "top_k", 1, int.MaxValue),
            PresencePenalty = OptionalNumber(body, "", "presence_penalty", -2, 2),
            FrequencyPenalty = OptionalNumber(body, "", "frequency_penalty", -2, 2),
            Seed = OptionalInteger(body, "", "seed", long.MinValue, long.MaxValue),
            N = (int)(OptionalInteger(body, "", "n", 1, 128) ?? 1),
            Stop = ReadStop(body),
            Tools = tools,
            ToolChoice = ToolParser.ParseToolChoice(body, tools),
            ParallelToolCalls = OptionalBool(body, "", "parallel_tool_calls"),
            ResponseFormat = ResponseFormatParser.Parse(body),
            User = OptionalString(body, "", "user"),
        };
    }

    private static bool ReadIncludeUsage(JsonObject body, bool stream)
    {
        var options = OptionalObject(body, "", "stream_options");
        if (options is null)
            return false;
        if (!stream)
            throw new InvalidFieldException("stream_options", "`stream_options` is only allowed when `stream` is true.");
        return OptionalBool(options, "stream_options", "include_usage") ?? false;
    }

    /// <summary>max_completion_tokens wins over the deprecated max_tokens; both are checked.</summary>
    private static int? ReadMaxTokens(JsonObject body)
    {
        var maxTokens = OptionalInteger(body, "", "max_tokens", 1, int.MaxValue);
        var maxCompletionTokens = OptionalInteger(body, "", "max_completion_tokens", 1, int.MaxValue);
        return (int?)(maxCompletionTokens ?? maxTokens);
    }

    private static IReadOnlyList<string> ReadStop(JsonObject body)
    {
        var stop = Get(body, "stop");
        if (stop is null)
            return [];
        if (stop is not JsonArray sequences)
            return [AsString(stop, "stop")];
        if (sequences.Count is < 1 or > 4)
            throw new InvalidFieldException("stop", "`stop` takes a string or an array of 1 to 4 strings.");
        return sequences.Select((s, i) => AsString(s, PathOf("stop", i))).ToArray();
    }
}
