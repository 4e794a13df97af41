using System.Text.Json.Nodes;
using static Infery.Api.Providers.Anthropic.AnthropicResponseMapper;

namespace Infery.Api.Providers.Anthropic;

/// <summary>
/// Translates Anthropic's named stream events, one at a time, into OpenAI chat.completion.chunk objects,
/// and keeps the usage to report once the stream has ended.
/// </summary>
internal sealed class AnthropicStreamTranslator(ChatCall call, bool jsonMode)
{
    /// <summary>The OpenAI tool_calls index for each Anthropic content block index that is a tool call.</summary>
    private readonly Dictionary<int, int> toolIndexByBlock = [];
    private readonly HashSet<int> blocksWithArguments = [];
    private int? jsonBlock;
    private bool jsonContentSent;
    private TokenUsage? startUsage;

    /// <summary>True once message_stop has arrived; <see cref="Usage"/> is then final.</summary>
    public bool Finished { get; private set; }

    /// <summary>
    /// message_start's counts, overridden by the latest message_delta (whose counts are cumulative); null while
    /// neither has carried any, so that a stream without counts is billed by estimate rather than as free.
    /// </summary>
    public TokenUsage? Usage { get; private set; }

    /// <summary>The chunk to forward for this event, or null when it has nothing for the client.</summary>
    public JsonObject? Translate(SseEvent sse)
    {
        var data = Parse(sse.Data);
        var type = String(data, "type") ?? sse.Event;
        if (type == "error" || sse.Event == "error")
            throw StreamError(data);

        return type switch
        {
            "message_start" => MessageStart(data),
            "content_block_start" => BlockStart(data),
            "content_block_delta" => BlockDelta(data),
            "content_block_stop" => BlockStop(data),
            "message_delta" => MessageDelta(data),
            "message_stop" => MessageStop(),
            // ping, and event types added to the API after this adapter was written
            _ => null,
        };
    }

    private JsonObject MessageStart(JsonObject data)
    {
        if (data["message"]?["usage"] is JsonObject usage && HasCounts(usage))
            Usage = startUsage = AnthropicResponseMapper.Usage(usage, start: null);
        return Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" });
    }

    private JsonObject? BlockStart(JsonObject data)
    {
        var index = BlockIndex(data);
        if (data["content_block"] is not JsonObject block)
            throw Malformed("content_block_start without a content_block");

        switch (String(block, "type"))
        {
            case "text" when String(block, "text") is { Length: > 0 } text:
                return Chunk(new JsonObject { ["content"] = text });
            case "tool_use" when jsonMode && String(block, "name") == AnthropicRequestMapper.JsonToolName:
                jsonBlock = index;
                return null;
            case "tool_use":
                var toolIndex = toolIndexByBlock.Count;
                toolIndexByBlock[index] = toolIndex;
                return Chunk(new JsonObject
                {
                    ["tool_calls"] = new JsonArray(new JsonObject
                    {
                        ["index"] = toolIndex,
                        ["id"] = String(block, "id") ?? throw Malformed("a tool_use block has no id"),
                        ["type"] = "function",
                        ["function"] = new JsonObject
                        {
                            ["name"] = String(block, "name") ?? throw Malformed("a tool_use block has no name"),
                            ["arguments"] = "",
                        },
                    }),
                });
            default:
                return null;
        }
    }

    private JsonObject? BlockDelta(JsonObject data)
    {
        var index = BlockIndex(data);
        if (data["delta"] is not JsonObject delta)
            throw Malformed("content_block_delta without a delta");

        switch (String(delta, "type"))
        {
            case "text_delta" when String(delta, "text") is { Length: > 0 } text:
                return Chunk(new JsonObject { ["content"] = text });
            case "input_json_delta" when String(delta, "partial_json") is { Length: > 0 } json:
                if (index == jsonBlock)
                {
                    jsonContentSent = true;
                    return Chunk(new JsonObject { ["content"] = json });
                }
                if (!toolIndexByBlock.TryGetValue(index, out var toolIndex))
                    return null;
                blocksWithArguments.Add(index);
                return ToolArguments(toolIndex, json);
            default:
                return null;
        }
    }

    /// <summary>A tool call without arguments still has to give the client valid JSON once concatenated.</summary>
    private JsonObject? BlockStop(JsonObject data)
    {
        var index = BlockIndex(data);
        if (index == jsonBlock && !jsonContentSent)
        {
            jsonContentSent = true;
            return Chunk(new JsonObject { ["content"] = "{}" });
        }
        if (toolIndexByBlock.TryGetValue(index, out var toolIndex) && blocksWithArguments.Add(index))
            return ToolArguments(toolIndex, "{}");
        return null;
    }

    private JsonObject MessageDelta(JsonObject data)
    {
        if (data["usage"] is JsonObject usage && HasCounts(usage))
            Usage = AnthropicResponseMapper.Usage(usage, startUsage);
        var stopReason = data["delta"] is JsonObject delta ? String(delta, "stop_reason") : null;
        return Chunk(new JsonObject(), FinishReason(stopReason, toolIndexByBlock.Count > 0));
    }

    private JsonObject? MessageStop()
    {
        Finished = true;
        return null;
    }

    private JsonObject ToolArguments(int toolIndex, string arguments) => Chunk(new JsonObject
    {
        ["tool_calls"] = new JsonArray(new JsonObject
        {
            ["index"] = toolIndex,
            ["function"] = new JsonObject { ["arguments"] = arguments },
        }),
    });

    private JsonObject Chunk(JsonObject delta, string? finishReason = null) => new()
    {
        ["id"] = call.ResponseId,
        ["object"] = "chat.completion.chunk",
        ["created"] = call.Created,
        ["model"] = call.Model.Slug,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["delta"] = delta,
            ["finish_reason"] = finishReason,
        }),
    };

    private static int BlockIndex(JsonObject data) =>
        data["index"] is JsonValue value && value.TryGetValue<int>(out var index)
            ? index
            : throw Malformed($"a {String(data, "type")} event without a block index");

    private static ProviderException StreamError(JsonObject data)
    {
        var error = data["error"] as JsonObject;
        var type = error is null ? null : String(error, "type");
        var message = error is null ? null : String(error, "message");
        return new ProviderException(StreamErrorFailure(type), $"{type ?? "error"} mid-stream: {message ?? "(no message)"}");
    }
}
