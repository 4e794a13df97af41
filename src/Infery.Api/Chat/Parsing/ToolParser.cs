using System.Text.Json.Nodes;
using static Infery.Api.Chat.Parsing.JsonFields;

namespace Infery.Api.Chat.Parsing;

/// <summary>Reads <c>tools</c> and <c>tool_choice</c>, which must name one of the declared tools.</summary>
internal static class ToolParser
{
    public static IReadOnlyList<ToolDefinition> ParseTools(JsonObject body)
    {
        var tools = OptionalArray(body, "", "tools");
        if (tools is null)
            return [];
        var names = new HashSet<string>(StringComparer.Ordinal);
        return tools.Select((node, i) =>
        {
            var tool = ParseTool(node, PathOf("tools", i));
            if (!names.Add(tool.Name))
                throw new InvalidFieldException($"tools[{i}].function.name", $"The tool name '{tool.Name}' is declared twice.");
            return tool;
        }).ToArray();
    }

    private static ToolDefinition ParseTool(JsonNode? node, string at)
    {
        var tool = AsObject(node, at);
        OneOf(RequiredString(tool, at, "type"), PathOf(at, "type"), "function");
        var functionAt = PathOf(at, "function");
        var function = RequiredObject(tool, at, "function");
        var name = RequiredString(function, functionAt, "name");
        if (!IsValidName(name))
            throw new InvalidFieldException(PathOf(functionAt, "name"),
                $"Invalid tool name '{Shorten(name)}': use 1 to 64 letters, digits, underscores or dashes.");
        return new ToolDefinition(
            name,
            OptionalString(function, functionAt, "description"),
            OptionalObject(function, functionAt, "parameters"),
            OptionalBool(function, functionAt, "strict") ?? false);
    }

    public static ToolChoice? ParseToolChoice(JsonObject body, IReadOnlyList<ToolDefinition> tools)
    {
        var node = Get(body, "tool_choice");
        if (node is null)
            return null;

        var choice = node is JsonObject named ? ParseNamedChoice(named, tools) : ParseModeChoice(node);
        if (choice.Mode != "none" && choice.Mode != "auto" && tools.Count == 0)
            throw new InvalidFieldException("tool_choice", $"`tool_choice` '{choice.Mode}' needs `tools` to be declared.");
        return choice;
    }

    private static ToolChoice ParseModeChoice(JsonNode node) => OneOf(AsString(node, "tool_choice"), "tool_choice", "none", "auto", "required") switch
    {
        "none" => ToolChoice.None,
        "auto" => ToolChoice.Auto,
        _ => ToolChoice.Required,
    };

    private static ToolChoice ParseNamedChoice(JsonObject choice, IReadOnlyList<ToolDefinition> tools)
    {
        OneOf(RequiredString(choice, "tool_choice", "type"), "tool_choice.type", "function");
        var name = RequiredString(RequiredObject(choice, "tool_choice", "function"), "tool_choice.function", "name");
        if (tools.Count > 0 && !tools.Any(t => t.Name == name))
            throw new InvalidFieldException("tool_choice.function.name", $"`tool_choice` names the tool '{Shorten(name)}', which is not in `tools`.");
        return new ToolChoice("function", name);
    }
}
