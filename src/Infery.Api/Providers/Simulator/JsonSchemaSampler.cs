using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Infery.Api.Providers.Simulator;

/// <summary>
/// Builds one JSON value that a JSON schema accepts: the simulator's tool arguments and structured output.
/// Handles the subset that tool and response schemas use in practice: type (or a list of types), enum, const,
/// properties/required, items/prefixItems, min/max bounds, common string formats, $ref into the same
/// document, anyOf/oneOf (first usable branch) and allOf (merged). Patterns are not honoured.
/// </summary>
internal sealed class JsonSchemaSampler
{
    /// <summary>Below this depth optional properties are left out and arrays kept minimal, so recursive schemas end.</summary>
    private const int MaxDepth = 8;

    /// <summary>A schema that requires itself has no finite instance; give up with null rather than recurse forever.</summary>
    private const int GiveUpDepth = 4 * MaxDepth;

    /// <summary>
    /// However much a schema asks for (minItems of a billion, a string of minLength a billion, a $ref that doubles
    /// at every level), a sample holds at most this many values and this many characters of padding: a request of a
    /// few bytes must not make the gateway build gigabytes.
    /// </summary>
    private const int MaxValues = 1_000;

    private const int MaxPaddingChars = 16 * 1024;

    private int valuesLeft = MaxValues;
    private int paddingLeft = MaxPaddingChars;

    private readonly JsonObject? root;
    private readonly string text;

    private JsonSchemaSampler(JsonObject? root, string text)
    {
        this.root = root;
        this.text = text;
    }

    /// <summary>A value for <paramref name="schema"/>; plain strings are filled with <paramref name="text"/>.</summary>
    public static JsonNode? Sample(JsonObject? schema, string text) => new JsonSchemaSampler(schema, text).ValueFor(schema, 0);

    private JsonNode? ValueFor(JsonNode? schemaNode, int depth)
    {
        if (--valuesLeft < 0 || depth > GiveUpDepth)
            return null;
        if (schemaNode is not JsonObject schema)
            return JsonValue.Create(text);
        schema = Resolve(schema);

        if (schema.TryGetPropertyValue("const", out var constant))
            return constant?.DeepClone();
        if (schema["enum"] is JsonArray { Count: > 0 } choices)
            return choices[0]?.DeepClone();
        if (FirstUsableBranch(schema) is { } branch)
            return ValueFor(branch, depth + 1);
        if (schema["allOf"] is JsonArray { Count: > 0 } parts)
            return ValueFor(Merge(parts), depth + 1);

        return TypeOf(schema) switch
        {
            "object" => ObjectFor(schema, depth),
            "array" => ArrayFor(schema, depth),
            "integer" => JsonValue.Create((long)NumberFor(schema, integer: true)),
            "number" => JsonValue.Create(NumberFor(schema, integer: false)),
            "boolean" => JsonValue.Create(true),
            "null" => null,
            _ => JsonValue.Create(StringFor(schema)),
        };
    }

    private JsonObject Resolve(JsonObject schema)
    {
        for (var hops = 0; hops < MaxDepth && StringOf(schema["$ref"]) is { } reference && Lookup(reference) is { } target; hops++)
            schema = target;
        return schema;
    }

    /// <summary>A local JSON pointer such as #/$defs/address; anything else is unknown.</summary>
    private JsonObject? Lookup(string reference)
    {
        if (reference == "#")
            return root;
        if (!reference.StartsWith("#/", StringComparison.Ordinal))
            return null;
        JsonNode? node = root;
        foreach (var segment in reference[2..].Split('/'))
            node = node is JsonObject obj ? obj[segment.Replace("~1", "/").Replace("~0", "~")] : null;
        return node as JsonObject;
    }

    private static JsonNode? FirstUsableBranch(JsonObject schema)
    {
        var branches = schema["anyOf"] as JsonArray ?? schema["oneOf"] as JsonArray;
        if (branches is null or { Count: 0 })
            return null;
        return branches.FirstOrDefault(b => b is JsonObject o && o["type"]?.ToString() != "null") ?? branches[0];
    }

    private JsonObject Merge(JsonArray parts)
    {
        var merged = new JsonObject();
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var part in parts.OfType<JsonObject>().Select(Resolve))
        {
            foreach (var (key, value) in part)
            {
                if (key == "properties" && value is JsonObject props)
                {
                    foreach (var (name, propertySchema) in props)
                        properties[name] = propertySchema?.DeepClone();
                }
                else if (key == "required" && value is JsonArray names)
                {
                    foreach (var name in names)
                        required.Add(name?.DeepClone());
                }
                else if (key != "$ref")
                    merged[key] = value?.DeepClone();
            }
        }
        if (properties.Count > 0)
            merged["properties"] = properties;
        if (required.Count > 0)
            merged["required"] = required;
        return merged;
    }

    private static string TypeOf(JsonObject schema)
    {
        switch (schema["type"])
        {
            case JsonValue single when StringOf(single) is { } type:
                return type;
            case JsonArray types:
                var names = types.Select(t => t?.ToString()).ToList();
                return names.FirstOrDefault(t => t is not null and not "null") ?? "null";
        }
        if (schema.ContainsKey("properties") || schema.ContainsKey("required"))
            return "object";
        if (schema.ContainsKey("items") || schema.ContainsKey("prefixItems"))
            return "array";
        return "string";
    }

    private JsonObject ObjectFor(JsonObject schema, int depth)
    {
        var required = (schema["required"] as JsonArray)?.Select(n => n?.ToString()).OfType<string>().ToHashSet() ?? [];
        var result = new JsonObject();
        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (name, propertySchema) in properties)
            {
                if (valuesLeft <= 0)
                    break;
                if (depth < MaxDepth || required.Contains(name))
                    result[name] = ValueFor(propertySchema, depth + 1);
            }
        }
        foreach (var name in required.Where(name => !result.ContainsKey(name)))
            result[name] = ValueFor(schema["additionalProperties"] as JsonObject, depth + 1);
        return result;
    }

    private JsonArray ArrayFor(JsonObject schema, int depth)
    {
        var minItems = IntOf(schema["minItems"]) ?? 0;
        var maxItems = IntOf(schema["maxItems"]) ?? int.MaxValue;
        var prefix = schema["prefixItems"] as JsonArray ?? [];
        var wanted = Math.Min(Math.Max(minItems, depth < MaxDepth ? Math.Max(1, prefix.Count) : 0), maxItems);
        var items = new JsonArray();
        for (var i = 0; i < wanted && valuesLeft > 0; i++)
            items.Add(ValueFor(i < prefix.Count ? prefix[i] : schema["items"], depth + 1));
        return items;
    }

    private static double NumberFor(JsonObject schema, bool integer)
    {
        var step = integer ? 1 : 0.5;
        double? low = DoubleOf(schema["minimum"]);
        if (DoubleOf(schema["exclusiveMinimum"]) is { } exclusiveLow)
            low = Math.Max(low ?? double.MinValue, exclusiveLow + step);
        double? high = DoubleOf(schema["maximum"]);
        if (DoubleOf(schema["exclusiveMaximum"]) is { } exclusiveHigh)
            high = Math.Min(high ?? double.MaxValue, exclusiveHigh - step);

        var value = low ?? Math.Min(integer ? 1 : 1.5, high ?? double.MaxValue);
        if (integer)
            value = Math.Ceiling(value);
        if (high is { } top && value > top)
            value = integer ? Math.Floor(top) : top;
        return value;
    }

    private string StringFor(JsonObject schema)
    {
        var value = StringOf(schema["format"]) switch
        {
            "date-time" => "2025-01-01T00:00:00Z",
            "date" => "2025-01-01",
            "time" => "12:00:00",
            "email" => "someone@example.com",
            "uri" or "url" => "https://example.com/",
            "uuid" => "00000000-0000-4000-8000-000000000000",
            "ipv4" => "192.0.2.1",
            _ => text,
        };
        var minLength = IntOf(schema["minLength"]) ?? 0;
        var maxLength = IntOf(schema["maxLength"]) ?? int.MaxValue;
        if (value.Length > maxLength)
            value = value[..maxLength];
        if (value.Length < minLength)
        {
            var padded = Math.Min(minLength, value.Length + paddingLeft);
            paddingLeft -= padded - value.Length;
            value = value.PadRight(padded, 'x');
        }
        return value;
    }

    private static int? IntOf(JsonNode? node) => DoubleOf(node) is { } d ? (int)Math.Clamp(d, 0, int.MaxValue) : null;

    /// <summary>A bound as a number; one beyond what a double holds (1e400) counts as absent, since JSON cannot carry infinity.</summary>
    private static double? DoubleOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
            && double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture) is var number && double.IsFinite(number)
            ? number
            : null;

    private static string? StringOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
