using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Chat.Parsing;

namespace Infery.Api.Http;

/// <summary>Reads a JSON object body with a size limit; every way it can be wrong is an <see cref="ApiError"/>.</summary>
public static class JsonBody
{
    public const int AdminMaxBytes = 64 * 1024;

    /// <param name="parserRejectsRepeatedNames">True for a body handed to a parser that finds repeated property names
    /// itself, so the body is not walked twice for them.</param>
    public static async Task<(JsonObject? Body, ApiError? Error)> ReadObjectAsync(
        HttpRequest request, int maxBytes, CancellationToken ct, bool parserRejectsRepeatedNames = false)
    {
        if (request.ContentLength > maxBytes)
            return (null, TooLarge(maxBytes));
        // The body is parsed where the server buffered it: no copy of it is made before the parser's own.
        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            var body = result.Buffer;
            if (body.Length > maxBytes)
            {
                reader.AdvanceTo(body.End);
                return (null, TooLarge(maxBytes));
            }
            if (!result.IsCompleted)
            {
                reader.AdvanceTo(body.Start, body.End);
                continue;
            }
            try
            {
                return body.Length == 0
                    ? (null, ApiError.InvalidRequest("The request body is empty; send a JSON object."))
                    : Parse(body, parserRejectsRepeatedNames);
            }
            finally
            {
                reader.AdvanceTo(body.End);
            }
        }
    }

    private static (JsonObject? Body, ApiError? Error) Parse(ReadOnlySequence<byte> body, bool parserRejectsRepeatedNames)
    {
        try
        {
            var json = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
            var node = JsonNode.Parse(ref json);
            json.Read(); // Anything but whitespace after the value is an error.
            if (node is not JsonObject obj)
                return (null, ApiError.InvalidRequest("The request body must be a JSON object."));
            // A repeated name would otherwise surface as an exception the first time a field is read.
            if (!parserRejectsRepeatedNames && DuplicateProperties.Find(obj) is { } at)
                return (null, ApiError.InvalidRequest("The request body repeats a property name in one object.", at.Length == 0 ? null : at));
            return (obj, null);
        }
        catch (JsonException e)
        {
            return (null, ApiError.InvalidRequest($"The request body is not valid JSON: {e.Message}", null, "invalid_json"));
        }
    }

    private static ApiError TooLarge(int maxBytes) =>
        new(413, $"The request body is larger than {maxBytes} bytes.", "invalid_request_error", null, "request_too_large");
}

/// <summary>
/// Reads typed fields from a JSON object, keeping the first problem: read every field, then check <see cref="Error"/>.
/// </summary>
public sealed class FieldReader(JsonObject body)
{
    public ApiError? Error { get; private set; }

    public string? String(string name, bool required, int maxLength)
    {
        if (!Present(name, required, out var node))
            return null;
        if (node is not JsonValue value || !value.TryGetValue<string>(out var text))
            return Fail($"{name} must be a string.", name);
        if (text.Trim().Length == 0 || text.Length > maxLength)
            return Fail($"{name} must be 1 to {maxLength} characters.", name);
        return text;
    }

    public long? Long(string name, bool required, long min, long max)
    {
        if (!Present(name, required, out var node))
            return null;
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number || !value.TryGetValue<long>(out var number))
            return Fail<long?>($"{name} must be an integer.", name);
        if (number < min || number > max)
            return Fail<long?>($"{name} must be between {min} and {max}.", name);
        return number;
    }

    /// <summary>A decimal given as a JSON number or a numeric string, e.g. 12.5 or "12.5".</summary>
    public decimal? Decimal(string name, bool required)
    {
        if (!Present(name, required, out var node))
            return null;
        if (node is JsonValue value)
        {
            if (value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<decimal>(out var number))
                return number;
            if (value.TryGetValue<string>(out var text)
                && decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number))
                return number;
        }
        return Fail<decimal?>($"{name} must be a number.", name);
    }

    private bool Present(string name, bool required, out JsonNode? node)
    {
        node = null;
        if (Error is not null)
            return false;
        if (!body.TryGetPropertyValue(name, out node) || node is null)
        {
            if (required)
                Fail($"{name} is required.", name);
            return false;
        }
        return true;
    }

    private string? Fail(string message, string param) => Fail<string?>(message, param);

    private T Fail<T>(string message, string param)
    {
        Error ??= ApiError.InvalidRequest(message, param);
        return default!;
    }
}
