using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;
using Infery.Api.Providers;

namespace Infery.Api.Tests.Providers;

/// <summary>Builds provider calls whose typed fields and client JSON body agree, as the request parser would produce them.</summary>
internal static class TestChat
{
    public static ChatMessage User(string text) => new("user", [new TextPart(text)]);

    public static ChatMessage User(params ContentPart[] parts) => new("user", parts);

    public static ChatMessage SystemMessage(string text) => new("system", [new TextPart(text)]);

    public static ToolDefinition Tool(string name, string parametersJson) =>
        new(name, $"The {name} tool", JsonNode.Parse(parametersJson)!.AsObject(), Strict: false);

    public static ChatRequest Request(
        IReadOnlyList<ChatMessage> messages,
        string model = "test-model",
        bool stream = false,
        bool includeUsage = false,
        int? maxTokens = null,
        int n = 1,
        IReadOnlyList<ToolDefinition>? tools = null,
        ToolChoice? toolChoice = null,
        ResponseFormat? responseFormat = null,
        IReadOnlyList<string>? stop = null,
        JsonObject? extraFields = null)
    {
        var body = new JsonObject { ["model"] = model, ["messages"] = new JsonArray(messages.Select(MessageJson).ToArray()) };
        if (stream)
            body["stream"] = true;
        if (includeUsage)
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        if (maxTokens is not null)
            body["max_completion_tokens"] = maxTokens;
        if (n != 1)
            body["n"] = n;
        if (tools is { Count: > 0 })
            body["tools"] = new JsonArray(tools.Select(ToolJson).ToArray());
        if (toolChoice is not null)
            body["tool_choice"] = toolChoice.FunctionName is { } name
                ? new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } }
                : toolChoice.Mode;
        if (responseFormat is not null)
            body["response_format"] = ResponseFormatJson(responseFormat);
        if (stop is { Count: > 0 })
            body["stop"] = new JsonArray(stop.Select(s => (JsonNode?)s).ToArray());
        foreach (var (key, value) in extraFields ?? [])
            body[key] = value?.DeepClone();

        return new ChatRequest
        {
            Body = body,
            Model = model,
            Messages = messages,
            Stream = stream,
            IncludeUsage = includeUsage,
            MaxTokens = maxTokens,
            N = n,
            Tools = tools ?? [],
            ToolChoice = toolChoice,
            ResponseFormat = responseFormat,
            Stop = stop ?? [],
        };
    }

    public static CatalogModel Model(string upstreamModel, string slug = "test-model", ProviderConfig? provider = null) =>
        new(slug, provider ?? new ProviderConfig("sim", ProviderKind.Simulator, null, null, ProviderTimeouts.Default),
            upstreamModel, "infery", 128_000, 16_384,
            new ModelCapabilities(true, true, true, true, true, ["text", "image", "audio", "file"], ["text"]),
            new ModelPrices(1_000_000, 100_000, 1_250_000, 4_000_000));

    public static ChatCall Call(ChatRequest request, CatalogModel model) =>
        new(request, model, "chatcmpl-test123", 1_767_225_600);

    private static JsonNode MessageJson(ChatMessage message)
    {
        var json = new JsonObject { ["role"] = message.Role };
        json["content"] = message.Content is [TextPart only]
            ? only.Text
            : new JsonArray(message.Content.Select(PartJson).ToArray());
        if (message.Name is not null)
            json["name"] = message.Name;
        if (message.ToolCalls is { Count: > 0 } calls)
            json["tool_calls"] = new JsonArray(calls.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id,
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments },
            }).ToArray());
        if (message.ToolCallId is not null)
            json["tool_call_id"] = message.ToolCallId;
        return json;
    }

    private static JsonNode PartJson(ContentPart part) => part switch
    {
        TextPart text => new JsonObject { ["type"] = "text", ["text"] = text.Text },
        ImagePart image => new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = image.Url, ["detail"] = image.Detail } },
        AudioPart audio => new JsonObject { ["type"] = "input_audio", ["input_audio"] = new JsonObject { ["data"] = audio.Data, ["format"] = audio.Format } },
        FilePart file => new JsonObject
        {
            ["type"] = "file",
            ["file"] = new JsonObject { ["filename"] = file.Filename, ["file_data"] = file.FileData, ["file_id"] = file.FileId },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(part)),
    };

    private static JsonNode ToolJson(ToolDefinition tool) => new JsonObject
    {
        ["type"] = "function",
        ["function"] = new JsonObject
        {
            ["name"] = tool.Name,
            ["description"] = tool.Description,
            ["parameters"] = tool.Parameters?.DeepClone(),
        },
    };

    private static JsonNode ResponseFormatJson(ResponseFormat format) => format.Type == "json_schema"
        ? new JsonObject
        {
            ["type"] = "json_schema",
            ["json_schema"] = new JsonObject { ["name"] = format.SchemaName, ["schema"] = format.Schema?.DeepClone(), ["strict"] = format.Strict },
        }
        : new JsonObject { ["type"] = format.Type };
}
