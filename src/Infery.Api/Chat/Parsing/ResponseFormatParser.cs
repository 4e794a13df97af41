using System.Text.Json.Nodes;
using static Infery.Api.Chat.Parsing.JsonFields;

namespace Infery.Api.Chat.Parsing;

/// <summary>Reads <c>response_format</c>: text, json_object, or json_schema with a named schema.</summary>
internal static class ResponseFormatParser
{
    public static ResponseFormat? Parse(JsonObject body)
    {
        var format = OptionalObject(body, "", "response_format");
        if (format is null)
            return null;
        var type = OneOf(RequiredString(format, "response_format", "type"), "response_format.type", "text", "json_object", "json_schema");
        if (type != "json_schema")
            return new ResponseFormat(type);

        const string at = "response_format.json_schema";
        var schema = RequiredObject(format, "response_format", "json_schema");
        var name = RequiredString(schema, at, "name");
        if (!IsValidName(name))
            throw new InvalidFieldException($"{at}.name", $"Invalid schema name '{Shorten(name)}': use 1 to 64 letters, digits, underscores or dashes.");
        OptionalString(schema, at, "description");
        return new ResponseFormat(
            type,
            name,
            OptionalObject(schema, at, "schema"),
            OptionalBool(schema, at, "strict") ?? false);
    }
}
