using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Chat;

namespace Infery.Api.Providers.Gemini;

/// <summary>
/// Builds a Gemini GenerateContentRequest (lowerCamelCase JSON) from an OpenAI chat request.
/// Anything Gemini cannot express is rejected as <see cref="ProviderFailure.BadRequest"/> rather than dropped.
/// </summary>
internal static class GeminiRequestMapper
{
    /// <summary>JSON Schema keys that Gemini's OpenAPI-subset schema rejects.</summary>
    private static readonly HashSet<string> UnsupportedSchemaKeys = ["additionalProperties", "strict", "$schema"];

    /// <summary>Schema keys whose values map names (chosen by the client) to subschemas.</summary>
    private static readonly HashSet<string> SchemaMapKeys = ["properties", "$defs", "definitions", "patternProperties"];

    public static JsonObject Map(ChatRequest request)
    {
        var body = new JsonObject();

        var systemParts = request.Messages
            .Where(m => m.Role is "system" or "developer")
            .Select(m => m.Text)
            .Where(text => text.Length > 0)
            .Select(text => (JsonNode)new JsonObject { ["text"] = text })
            .ToArray();
        if (systemParts.Length > 0)
            body["systemInstruction"] = new JsonObject { ["parts"] = new JsonArray(systemParts) };

        body["contents"] = MapContents(request.Messages);

        if (request.Tools.Count > 0)
            body["tools"] = new JsonArray(new JsonObject { ["functionDeclarations"] = MapFunctionDeclarations(request.Tools) });

        if (request.ToolChoice is { } toolChoice)
            body["toolConfig"] = new JsonObject { ["functionCallingConfig"] = MapToolChoice(toolChoice) };

        var generationConfig = MapGenerationConfig(request);
        if (generationConfig.Count > 0)
            body["generationConfig"] = generationConfig;

        return body;
    }

    private static JsonArray MapContents(IReadOnlyList<ChatMessage> messages)
    {
        var contents = new JsonArray();
        var functionNamesByCallId = new Dictionary<string, string>(StringComparer.Ordinal);
        string? lastRole = null;
        JsonArray? lastParts = null;

        foreach (var message in messages)
        {
            if (message.Role is "system" or "developer")
                continue;

            var parts = message.Role switch
            {
                "assistant" => AssistantParts(message, functionNamesByCallId),
                "tool" => [ToolResultPart(message, functionNamesByCallId)],
                "user" => message.Content.Select(UserPart).ToList(),
                _ => throw BadRequest($"messages with role '{message.Role}' cannot be sent to Gemini"),
            };
            if (parts.Count == 0)
                continue;

            var role = message.Role == "assistant" ? "model" : "user";
            if (role == lastRole && lastParts is not null)
            {
                foreach (var part in parts)
                    lastParts.Add(part);
                continue;
            }

            lastRole = role;
            lastParts = new JsonArray([.. parts]);
            contents.Add(new JsonObject { ["role"] = role, ["parts"] = lastParts });
        }

        if (contents.Count == 0)
            throw BadRequest("Gemini needs at least one user or assistant message with content");
        return contents;
    }

    private static List<JsonNode> AssistantParts(ChatMessage message, Dictionary<string, string> functionNamesByCallId)
    {
        var parts = new List<JsonNode>();
        if (message.Text.Length > 0)
            parts.Add(new JsonObject { ["text"] = message.Text });

        foreach (var call in message.ToolCalls ?? [])
        {
            functionNamesByCallId[call.Id] = call.Name;
            parts.Add(new JsonObject
            {
                ["functionCall"] = new JsonObject { ["name"] = call.Name, ["args"] = ParseArguments(call) },
            });
        }
        return parts;
    }

    private static JsonObject ParseArguments(ToolCall call)
    {
        if (string.IsNullOrWhiteSpace(call.Arguments))
            return new JsonObject();
        try
        {
            return JsonNode.Parse(call.Arguments) as JsonObject
                ?? throw BadRequest($"the arguments of tool call '{call.Id}' are not a JSON object");
        }
        catch (JsonException)
        {
            throw BadRequest($"the arguments of tool call '{call.Id}' are not valid JSON");
        }
    }

    /// <summary>Gemini matches results to calls by function name, which OpenAI tool messages do not carry.</summary>
    private static JsonNode ToolResultPart(ChatMessage message, Dictionary<string, string> functionNamesByCallId)
    {
        if (message.ToolCallId is null || !functionNamesByCallId.TryGetValue(message.ToolCallId, out var name))
            throw BadRequest(
                $"the tool message with tool_call_id '{message.ToolCallId}' does not answer any tool call of an earlier assistant message");

        return new JsonObject
        {
            ["functionResponse"] = new JsonObject
            {
                ["name"] = name,
                ["response"] = new JsonObject { ["content"] = message.Text },
            },
        };
    }

    private static JsonNode UserPart(ContentPart part) => part switch
    {
        TextPart text => new JsonObject { ["text"] = text.Text },
        ImagePart image when TryInline(image.Url, out var mimeType, out var data) => InlineData(mimeType, data),
        ImagePart image when IsFetchable(image.Url) => new JsonObject
        {
            ["fileData"] = new JsonObject { ["mimeType"] = GuessImageMimeType(image.Url), ["fileUri"] = image.Url },
        },
        ImagePart => throw BadRequest("image_url must be an http(s) URL or a base64 data URI"),
        AudioPart audio => InlineData(AudioMimeType(audio.Format), audio.Data),
        FilePart { FileData: { } fileData } when TryInline(fileData, out var mimeType, out var data) => InlineData(mimeType, data),
        FilePart { FileData: not null } => throw BadRequest("file_data must be a base64 data URI"),
        FilePart => throw BadRequest("Gemini cannot read files by file_id; send the file as file_data"),
        _ => throw BadRequest($"content parts of type {part.GetType().Name} cannot be sent to Gemini"),
    };

    private static JsonObject InlineData(string mimeType, string base64) =>
        new() { ["inlineData"] = new JsonObject { ["mimeType"] = mimeType, ["data"] = base64 } };

    private static bool IsFetchable(string url) =>
        url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("gs://", StringComparison.OrdinalIgnoreCase);

    private static string GuessImageMimeType(string url)
    {
        var path = url.Split('?', '#')[0];
        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".png" => "image/png",
            ".gif" => "image/gif",
            ".webp" => "image/webp",
            ".heic" => "image/heic",
            ".heif" => "image/heif",
            ".pdf" => "application/pdf",
            // JPEG is the most common photo format, and Gemini needs some mime type for a URL without one.
            _ => "image/jpeg",
        };
    }

    private static string AudioMimeType(string format) => format.ToLowerInvariant() switch
    {
        "wav" => "audio/wav",
        "mp3" => "audio/mp3",
        _ => throw BadRequest($"Gemini accepts input_audio in wav or mp3, not '{format}'"),
    };

    private static JsonArray MapFunctionDeclarations(IReadOnlyList<ToolDefinition> tools)
    {
        var declarations = new JsonArray();
        foreach (var tool in tools)
        {
            var declaration = new JsonObject { ["name"] = tool.Name };
            if (tool.Description is not null)
                declaration["description"] = tool.Description;
            if (tool.Parameters is not null)
                declaration["parameters"] = CleanSchema(tool.Parameters);
            declarations.Add(declaration);
        }
        return declarations;
    }

    private static JsonObject MapToolChoice(ToolChoice choice)
    {
        if (choice.FunctionName is { } name)
            return new JsonObject { ["mode"] = "ANY", ["allowedFunctionNames"] = new JsonArray(name) };

        return new JsonObject
        {
            ["mode"] = choice.Mode switch
            {
                "none" => "NONE",
                "auto" => "AUTO",
                "required" => "ANY",
                _ => throw BadRequest($"tool_choice '{choice.Mode}' cannot be sent to Gemini"),
            },
        };
    }

    private static JsonObject MapGenerationConfig(ChatRequest request)
    {
        var config = new JsonObject();
        if (request.Temperature is { } temperature)
            config["temperature"] = temperature;
        if (request.TopP is { } topP)
            config["topP"] = topP;
        if (request.TopK is { } topK)
            config["topK"] = topK;
        if (request.MaxTokens is { } maxTokens)
            config["maxOutputTokens"] = maxTokens;
        if (request.N != 1)
            config["candidateCount"] = request.N;
        if (request.Stop.Count > 0)
            config["stopSequences"] = new JsonArray([.. request.Stop.Select(s => (JsonNode)s)]);
        if (request.Seed is { } seed)
            config["seed"] = seed;
        if (request.PresencePenalty is { } presencePenalty)
            config["presencePenalty"] = presencePenalty;
        if (request.FrequencyPenalty is { } frequencyPenalty)
            config["frequencyPenalty"] = frequencyPenalty;

        switch (request.ResponseFormat)
        {
            case { Type: "json_object" }:
                config["responseMimeType"] = "application/json";
                break;
            case { Type: "json_schema" } format:
                config["responseMimeType"] = "application/json";
                if (format.Schema is not null)
                    config["responseSchema"] = CleanSchema(format.Schema);
                break;
        }
        return config;
    }

    /// <summary>A copy of a JSON Schema without the keys Gemini rejects, at every depth.</summary>
    internal static JsonObject CleanSchema(JsonObject schema) => (JsonObject)CleanSchemaNode(schema, namesAreKeywords: true)!;

    private static JsonNode? CleanSchemaNode(JsonNode? node, bool namesAreKeywords)
    {
        switch (node)
        {
            case JsonObject obj:
                var clean = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    // Inside "properties" the keys are the client's field names, so a field called "strict" stays.
                    if (namesAreKeywords && UnsupportedSchemaKeys.Contains(key))
                        continue;
                    var childIsNameMap = namesAreKeywords && SchemaMapKeys.Contains(key);
                    clean[key] = CleanSchemaNode(value, namesAreKeywords: !childIsNameMap);
                }
                return clean;
            case JsonArray array:
                return new JsonArray([.. array.Select(item => CleanSchemaNode(item, namesAreKeywords: true))]);
            default:
                return node?.DeepClone();
        }
    }

    private static ProviderException BadRequest(string message) => new(ProviderFailure.BadRequest, message);

    /// <summary>Splits a data: URI into its media type and base64 payload; Gemini takes base64 bytes only.</summary>
    private static bool TryInline(string uri, out string mimeType, out string data)
    {
        mimeType = data = "";
        if (!DataUriContent.IsDataUri(uri))
            return false;
        if (!DataUriContent.TryParse(uri, out var parsed))
            throw BadRequest("a data URI has no ',' before its payload");
        if (!parsed.IsBase64)
            throw BadRequest("data URIs must be base64 encoded");
        (mimeType, data) = (parsed.MediaType, parsed.Payload);
        return true;
    }
}
