using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Chat;

namespace Infery.Api.Providers.Anthropic;

/// <summary>Builds an Anthropic Messages request body from an OpenAI chat request.</summary>
internal static class AnthropicRequestMapper
{
    /// <summary>The tool forced on the model to get JSON out when the client asked for a response_format.</summary>
    public const string JsonToolName = "json_response";

    public static bool WantsJson(ChatRequest request) =>
        request.ResponseFormat?.Type is "json_object" or "json_schema";

    public static JsonObject Map(ChatCall call, bool stream)
    {
        var request = call.Request;
        if (request.N > 1)
            throw BadRequest("n greater than 1 is not supported by Anthropic models");

        var body = new JsonObject
        {
            ["model"] = call.Model.UpstreamModel,
            ["max_tokens"] = request.MaxTokens ?? call.Model.MaxOutputTokens,
        };

        var system = SystemBlocks(request.Messages);
        if (system.Count > 0)
            body["system"] = system;
        body["messages"] = Turns(request.Messages);

        MapTools(request, body);

        // Anthropic rejects stop sequences that are only whitespace.
        var stops = request.Stop.Where(s => !string.IsNullOrWhiteSpace(s)).ToArray();
        if (stops.Length > 0)
            body["stop_sequences"] = new JsonArray(stops.Select(s => (JsonNode)s!).ToArray());
        // OpenAI takes 0 to 2, Anthropic 0 to 1: above 1 asks for the most randomness there is, which is 1 here.
        if (request.Temperature is { } temperature)
            body["temperature"] = Math.Min(temperature, 1.0);
        if (request.TopP is { } topP)
            body["top_p"] = topP;
        if (request.TopK is { } topK)
            body["top_k"] = topK;
        if (!string.IsNullOrEmpty(request.User))
            body["metadata"] = new JsonObject { ["user_id"] = request.User };
        if (stream)
            body["stream"] = true;
        return body;
    }

    private static JsonArray SystemBlocks(IReadOnlyList<ChatMessage> messages)
    {
        var blocks = new JsonArray();
        foreach (var message in messages.Where(m => m.Role is "system" or "developer"))
        {
            if (message.Text.Length > 0)
                blocks.Add(TextBlock(message.Text));
        }
        return blocks;
    }

    /// <summary>User and assistant turns, strictly alternating: runs of the same role become one turn.</summary>
    private static JsonArray Turns(IReadOnlyList<ChatMessage> messages)
    {
        var turns = new List<(string Role, JsonArray Content)>();
        foreach (var message in messages)
        {
            if (message.Role is "system" or "developer")
                continue;
            var (role, blocks) = message.Role switch
            {
                "user" => ("user", UserBlocks(message)),
                "assistant" => ("assistant", AssistantBlocks(message)),
                "tool" => ("user", new List<JsonNode> { ToolResultBlock(message) }),
                _ => throw BadRequest($"unknown message role '{message.Role}'"),
            };
            if (blocks.Count == 0)
                continue;
            if (turns.Count == 0 || turns[^1].Role != role)
                turns.Add((role, []));
            foreach (var block in blocks)
                turns[^1].Content.Add(block);
        }

        // A conversation that ends in an assistant turn asks the model to continue it, and Anthropic
        // refuses such a prefill when it ends in whitespace (and any empty text block).
        if (turns.Count > 0 && turns[^1].Role == "assistant" && turns[^1].Content[^1] is JsonObject last
            && last["type"]?.GetValue<string>() == "text")
        {
            var trimmed = last["text"]!.GetValue<string>().TrimEnd();
            if (trimmed.Length > 0)
                last["text"] = trimmed;
            else
                turns[^1].Content.RemoveAt(turns[^1].Content.Count - 1);
            if (turns[^1].Content.Count == 0)
                turns.RemoveAt(turns.Count - 1);
        }

        return new JsonArray(turns
            .Select(t => (JsonNode)new JsonObject { ["role"] = t.Role, ["content"] = t.Content })
            .ToArray());
    }

    private static List<JsonNode> UserBlocks(ChatMessage message)
    {
        var blocks = new List<JsonNode>();
        foreach (var part in message.Content)
        {
            switch (part)
            {
                case TextPart { Text.Length: > 0 } text:
                    blocks.Add(TextBlock(text.Text));
                    break;
                case TextPart:
                    break;
                case ImagePart image:
                    blocks.Add(ImageBlock(image));
                    break;
                case FilePart file:
                    blocks.Add(FileBlock(file));
                    break;
                case AudioPart:
                    throw BadRequest("audio input is not supported by Anthropic models");
                default:
                    throw BadRequest($"unsupported content part {part.GetType().Name}");
            }
        }
        return blocks;
    }

    private static List<JsonNode> AssistantBlocks(ChatMessage message)
    {
        var blocks = new List<JsonNode>();
        if (message.Text.Length > 0)
            blocks.Add(TextBlock(message.Text));
        foreach (var call in message.ToolCalls ?? [])
        {
            blocks.Add(new JsonObject
            {
                ["type"] = "tool_use",
                ["id"] = call.Id,
                ["name"] = call.Name,
                ["input"] = ParseArguments(call.Arguments),
            });
        }
        return blocks;
    }

    private static JsonObject ToolResultBlock(ChatMessage message)
    {
        if (string.IsNullOrEmpty(message.ToolCallId))
            throw BadRequest("a tool message needs a tool_call_id");
        var block = new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = message.ToolCallId };
        if (message.Text.Length > 0)
            block["content"] = message.Text;
        return block;
    }

    /// <summary>Tool input must be a JSON object; arguments that are empty or not an object become {}.</summary>
    private static JsonObject ParseArguments(string arguments)
    {
        if (string.IsNullOrWhiteSpace(arguments))
            return [];
        try
        {
            return JsonNode.Parse(arguments) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static JsonObject ImageBlock(ImagePart image)
    {
        if (DataUriContent.TryParse(image.Url, out var data))
            return DataBlock(data, title: null);
        if (image.Url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            || image.Url.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            return new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "url", ["url"] = image.Url },
            };
        }
        throw BadRequest("an image_url must be an http(s) URL or a data: URI");
    }

    private static JsonObject FileBlock(FilePart file)
    {
        if (file.FileData is null)
            throw BadRequest("file parts must carry file_data; file ids are not supported by Anthropic models");
        if (DataUriContent.TryParse(file.FileData, out var data))
            return DataBlock(data, file.Filename);

        // Raw base64 without a data: prefix: the file name is all that tells what it is.
        var mediaType = Path.GetExtension(file.Filename ?? "").ToLowerInvariant() switch
        {
            ".pdf" => "application/pdf",
            ".txt" => "text/plain",
            ".png" => "image/png",
            ".jpg" or ".jpeg" => "image/jpeg",
            ".gif" => "image/gif",
            ".webp" => "image/webp",
            _ => throw BadRequest("file_data must be a data: URI or name a file of a known type"),
        };
        return DataBlock(new DataUriContent(mediaType, IsBase64: true, file.FileData), file.Filename);
    }

    private static JsonObject DataBlock(DataUriContent data, string? title)
    {
        JsonObject block;
        if (data.MediaType == "application/pdf")
        {
            block = new JsonObject { ["type"] = "document", ["source"] = Base64Source(data) };
        }
        else if (data.MediaType == "text/plain")
        {
            block = new JsonObject
            {
                ["type"] = "document",
                ["source"] = new JsonObject { ["type"] = "text", ["media_type"] = "text/plain", ["data"] = TextOf(data) },
            };
        }
        else if (data.MediaType.StartsWith("image/", StringComparison.Ordinal))
        {
            return new JsonObject { ["type"] = "image", ["source"] = Base64Source(data) };
        }
        else
        {
            throw BadRequest($"files of type {data.MediaType} are not supported by Anthropic models");
        }

        if (!string.IsNullOrEmpty(title))
            block["title"] = title;
        return block;
    }

    private static JsonObject Base64Source(DataUriContent data)
    {
        if (!data.IsBase64)
            throw BadRequest($"{data.MediaType} data must be base64-encoded");
        return new JsonObject { ["type"] = "base64", ["media_type"] = data.MediaType, ["data"] = data.Payload };
    }

    private static void MapTools(ChatRequest request, JsonObject body)
    {
        var tools = new JsonArray();
        foreach (var tool in request.Tools)
        {
            var mapped = new JsonObject { ["name"] = tool.Name };
            if (!string.IsNullOrEmpty(tool.Description))
                mapped["description"] = tool.Description;
            mapped["input_schema"] = tool.Parameters?.DeepClone() ?? new JsonObject { ["type"] = "object" };
            tools.Add(mapped);
        }

        JsonObject? choice = request.ToolChoice switch
        {
            null => null,
            { Mode: "none" } => new JsonObject { ["type"] = "none" },
            { Mode: "auto" } => new JsonObject { ["type"] = "auto" },
            { Mode: "required" } => new JsonObject { ["type"] = "any" },
            { Mode: "function", FunctionName: { } name } => new JsonObject { ["type"] = "tool", ["name"] = name },
            var other => throw BadRequest($"unsupported tool_choice '{other.Mode}'"),
        };

        if (WantsJson(request))
        {
            var format = request.ResponseFormat!;
            tools.Add(new JsonObject
            {
                ["name"] = JsonToolName,
                ["description"] = format.SchemaName is null
                    ? "Respond with a JSON object."
                    : $"Respond with a JSON object that matches the schema '{format.SchemaName}'.",
                ["input_schema"] = format.Schema?.DeepClone() ?? new JsonObject { ["type"] = "object" },
            });
            choice = new JsonObject { ["type"] = "tool", ["name"] = JsonToolName };
        }

        if (tools.Count == 0)
            return;
        body["tools"] = tools;
        if (request.ParallelToolCalls == false && choice?["type"]?.GetValue<string>() != "none")
        {
            choice ??= new JsonObject { ["type"] = "auto" };
            choice["disable_parallel_tool_use"] = true;
        }
        if (choice is not null)
            body["tool_choice"] = choice;
    }

    private static JsonObject TextBlock(string text) => new() { ["type"] = "text", ["text"] = text };

    private static string TextOf(DataUriContent data)
    {
        if (!data.IsBase64)
            return Uri.UnescapeDataString(data.Payload);
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(data.Payload));
        }
        catch (FormatException)
        {
            throw BadRequest("a text/plain file's base64 data is invalid");
        }
    }

    private static ProviderException BadRequest(string message) => new(ProviderFailure.BadRequest, message);

}
