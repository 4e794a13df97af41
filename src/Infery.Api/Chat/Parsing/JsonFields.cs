using System.Text.Json;
using System.Text.Json.Nodes;

namespace Infery.Api.Chat.Parsing;

/// <summary>
/// Typed reads of one property of a JSON object. <c>at</c> is the object's own path in OpenAI's param style
/// (<c>messages[2].content[0]</c>, or "" for the body), so an error can name the exact field.
/// A property set to null counts as absent, as OpenAI treats it.
/// </summary>
internal static class JsonFields
{
    public static string PathOf(string at, string name) => at.Length == 0 ? name : $"{at}.{name}";

    public static string PathOf(string at, int index) => $"{at}[{index}]";

    public static JsonNode? Get(JsonObject obj, string name) =>
        obj.TryGetPropertyValue(name, out var node) ? node : null;

    public static bool Has(JsonObject obj, string name) => Get(obj, name) is not null;

    public static string RequiredString(JsonObject obj, string at, string name) =>
        OptionalString(obj, at, name) ?? throw Missing(PathOf(at, name));

    public static string? OptionalString(JsonObject obj, string at, string name) =>
        Get(obj, name) is { } node ? AsString(node, PathOf(at, name)) : null;

    public static bool? OptionalBool(JsonObject obj, string at, string name)
    {
        var node = Get(obj, name);
        if (node is null)
            return null;
        return KindOf(node) switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(PathOf(at, name), "a boolean", node),
        };
    }

    public static double? OptionalNumber(JsonObject obj, string at, string name, double min, double max)
    {
        var node = Get(obj, name);
        if (node is null)
            return null;
        var param = PathOf(at, name);
        if (!TryGetElement(node, out var element) || element.ValueKind != JsonValueKind.Number)
            throw WrongType(param, "a number", node);
        if (!element.TryGetDouble(out var value) || !double.IsFinite(value) || value < min || value > max)
            throw new InvalidFieldException(param, $"`{param}` must be between {min} and {max}; got {Shorten(element.GetRawText())}.");
        return value;
    }

    public static long? OptionalInteger(JsonObject obj, string at, string name, long min, long max)
    {
        var node = Get(obj, name);
        if (node is null)
            return null;
        var param = PathOf(at, name);
        if (!TryGetElement(node, out var element) || element.ValueKind != JsonValueKind.Number)
            throw WrongType(param, "an integer", node);
        if (!element.TryGetInt64(out var value))
        {
            var isWhole = element.TryGetDecimal(out var exact) ? exact == decimal.Truncate(exact) : !HasFraction(element);
            throw new InvalidFieldException(param, isWhole
                ? $"`{param}` is out of range; got {Shorten(element.GetRawText())}."
                : $"Invalid type for `{param}`: expected an integer, got a decimal number.");
        }
        if (value < min || value > max)
        {
            var range = max is long.MaxValue or int.MaxValue ? $"at least {min}" : $"between {min} and {max}";
            throw new InvalidFieldException(param, $"`{param}` must be {range}; got {value}.");
        }
        return value;
    }

    public static JsonObject RequiredObject(JsonObject obj, string at, string name) =>
        OptionalObject(obj, at, name) ?? throw Missing(PathOf(at, name));

    public static JsonObject? OptionalObject(JsonObject obj, string at, string name) =>
        Get(obj, name) is { } node ? AsObject(node, PathOf(at, name)) : null;

    public static JsonArray? OptionalArray(JsonObject obj, string at, string name)
    {
        var node = Get(obj, name);
        if (node is null)
            return null;
        return node as JsonArray ?? throw WrongType(PathOf(at, name), "an array", node);
    }

    public static string AsString(JsonNode? node, string param)
    {
        if (TryGetElement(node, out var element) && element.ValueKind == JsonValueKind.String)
            return element.GetString()!;
        throw WrongType(param, "a string", node);
    }

    public static JsonObject AsObject(JsonNode? node, string param) =>
        node as JsonObject ?? throw WrongType(param, "an object", node);

    /// <summary>One of <paramref name="allowed"/>, else a 400 listing them.</summary>
    public static string OneOf(string value, string param, params string[] allowed) =>
        allowed.Contains(value, StringComparer.Ordinal)
            ? value
            : throw new InvalidFieldException(param,
                $"Invalid value for `{param}`: '{Shorten(value)}'. Supported values are: {string.Join(", ", allowed.Select(a => $"'{a}'"))}.");

    public static InvalidFieldException Missing(string param) =>
        new(param, $"Missing required parameter: `{param}`.");

    public static InvalidFieldException WrongType(string param, string expected, JsonNode? actual) =>
        new(param, $"Invalid type for `{param}`: expected {expected}, got {Describe(actual)}.");

    /// <summary>Tool and schema names: 1 to 64 of a-z, A-Z, 0-9, underscore and dash.</summary>
    public static bool IsValidName(string name) =>
        name.Length is >= 1 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    /// <summary>Client values echoed in messages are cut short so a huge string cannot bloat the error.</summary>
    public static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "…";

    private static JsonValueKind KindOf(JsonNode? node) => node?.GetValueKind() ?? JsonValueKind.Null;

    /// <summary>
    /// A value as a JsonElement: the one it was parsed from, or, for a value built in code, its JSON form.
    /// False for objects, arrays, null and values with no JSON form (NaN, infinities).
    /// </summary>
    private static bool TryGetElement(JsonNode? node, out JsonElement element)
    {
        element = default;
        if (node is not JsonValue value)
            return false;
        if (value.TryGetValue(out element))
            return true;
        try
        {
            element = JsonElement.Parse(value.ToJsonString());
            return true;
        }
        catch (Exception e) when (e is ArgumentException or JsonException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>For numbers too large for decimal: whether the literal has a fraction or a negative exponent.</summary>
    private static bool HasFraction(JsonElement number)
    {
        var text = number.GetRawText();
        var exponent = text.IndexOfAny(['e', 'E']);
        return exponent >= 0 ? text[exponent + 1] == '-' : text.Contains('.');
    }

    private static string Describe(JsonNode? node) => KindOf(node) switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
