using System.Text.Json.Nodes;
using static Infery.Api.Chat.Parsing.JsonFields;

namespace Infery.Api.Chat.Parsing;

/// <summary>Reads <c>messages</c>: roles, content, and the tool calls and results that link assistant and tool turns.</summary>
internal static class MessageParser
{
    private static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool"];

    public static IReadOnlyList<ChatMessage> Parse(JsonObject body)
    {
        var messages = OptionalArray(body, "", "messages") ?? throw Missing("messages");
        if (messages.Count == 0)
            throw new InvalidFieldException("messages", "`messages` must contain at least one message.");
        return messages.Select((message, i) => ParseMessage(message, PathOf("messages", i))).ToArray();
    }

    private static ChatMessage ParseMessage(JsonNode? node, string at)
    {
        var message = AsObject(node, at);
        var role = RequiredString(message, at, "role");
        var roleParam = PathOf(at, "role");
        if (role == "function")
            throw new InvalidFieldException(roleParam, "The 'function' role is deprecated and not supported; send tool results with role 'tool'.");
        OneOf(role, roleParam, Roles);

        var name = OptionalString(message, at, "name");
        var contentParam = PathOf(at, "content");
        var content = ContentPartParser.Parse(Get(message, "content"), role, contentParam);

        IReadOnlyList<ToolCall>? toolCalls = null;
        if (Has(message, "tool_calls"))
        {
            if (role != "assistant")
                throw new InvalidFieldException(PathOf(at, "tool_calls"), "Only assistant messages may carry `tool_calls`.");
            toolCalls = ParseToolCalls(OptionalArray(message, at, "tool_calls")!, PathOf(at, "tool_calls"));
        }

        string? toolCallId = null;
        if (role == "tool")
            toolCallId = RequiredString(message, at, "tool_call_id");

        if (content is null && toolCalls is null)
        {
            throw role == "assistant"
                ? new InvalidFieldException(contentParam, $"`{contentParam}` is required unless the assistant message has `tool_calls`.")
                : Missing(contentParam);
        }
        return new ChatMessage(role, content ?? [], name, toolCalls, toolCallId);
    }

    private static IReadOnlyList<ToolCall> ParseToolCalls(JsonArray calls, string at)
    {
        if (calls.Count == 0)
            throw new InvalidFieldException(at, $"`{at}` must not be an empty array; leave it out instead.");
        return calls.Select((node, k) =>
        {
            var callAt = PathOf(at, k);
            var call = AsObject(node, callAt);
            var id = RequiredString(call, callAt, "id");
            OneOf(RequiredString(call, callAt, "type"), PathOf(callAt, "type"), "function");
            var functionAt = PathOf(callAt, "function");
            var function = RequiredObject(call, callAt, "function");
            var name = RequiredString(function, functionAt, "name");
            var arguments = RequiredString(function, functionAt, "arguments");
            return new ToolCall(id, name, arguments);
        }).ToArray();
    }
}
