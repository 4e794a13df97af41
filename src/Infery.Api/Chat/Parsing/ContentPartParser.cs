using System.Text.Json.Nodes;
using static Infery.Api.Chat.Parsing.JsonFields;

namespace Infery.Api.Chat.Parsing;

/// <summary>Reads a message's <c>content</c>: a string, or an array of typed parts.</summary>
internal static class ContentPartParser
{
    private static readonly string[] UserPartTypes = ["text", "image_url", "input_audio", "file"];
    private static readonly string[] AssistantPartTypes = ["text", "refusal"];
    private static readonly string[] TextOnly = ["text"];

    public static readonly string[] AudioFormats = ["wav", "mp3", "pcm16", "webm"];

    /// <summary>The content of a message with <paramref name="role"/>; null when the content is absent or null.</summary>
    public static IReadOnlyList<ContentPart>? Parse(JsonNode? content, string role, string at)
    {
        switch (content)
        {
            case null:
                return null;
            case JsonArray parts:
                if (parts.Count == 0)
                    throw new InvalidFieldException(at, $"`{at}` must not be an empty array.");
                var allowed = AllowedPartTypes(role);
                return parts.Select((part, j) => ParsePart(part, role, allowed, PathOf(at, j))).ToArray();
            default:
                return [new TextPart(AsString(content, at))];
        }
    }

    private static string[] AllowedPartTypes(string role) => role switch
    {
        "user" => UserPartTypes,
        "assistant" => AssistantPartTypes,
        _ => TextOnly,
    };

    private static ContentPart ParsePart(JsonNode? node, string role, string[] allowed, string at)
    {
        var part = AsObject(node, at);
        var typeParam = PathOf(at, "type");
        var type = RequiredString(part, at, "type");
        if (!UserPartTypes.Contains(type) && !AssistantPartTypes.Contains(type))
            throw new InvalidFieldException(typeParam,
                $"Unknown content part type '{Shorten(type)}'; expected one of: {string.Join(", ", UserPartTypes)}.");
        if (!allowed.Contains(type))
            throw new InvalidFieldException(typeParam,
                $"Invalid content part type '{type}' in a '{role}' message; it may contain: {string.Join(", ", allowed)}.");

        return type switch
        {
            "text" => new TextPart(RequiredString(part, at, "text")),
            // A refusal the assistant gave earlier is replayed to the model as what it said.
            "refusal" => new TextPart(RequiredString(part, at, "refusal")),
            "image_url" => ParseImage(RequiredObject(part, at, "image_url"), PathOf(at, "image_url")),
            "input_audio" => ParseAudio(RequiredObject(part, at, "input_audio"), PathOf(at, "input_audio")),
            _ => ParseFile(RequiredObject(part, at, "file"), PathOf(at, "file")),
        };
    }

    private static ImagePart ParseImage(JsonObject image, string at)
    {
        var url = RequiredString(image, at, "url");
        var urlParam = PathOf(at, "url");
        if (DataUri.IsDataUri(url))
        {
            if (!DataUri.TryParse(url, out var data) || !data.MediaType.StartsWith("image/", StringComparison.Ordinal))
                throw new InvalidFieldException(urlParam,
                    $"`{urlParam}` is not a valid image data URI; expected data:image/<format>;base64,<data>.");
        }
        else if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            throw new InvalidFieldException(urlParam, $"`{urlParam}` must be an http(s) URL or a base64 data URI.");
        }

        var detail = OptionalString(image, at, "detail");
        if (detail is not null)
            OneOf(detail, PathOf(at, "detail"), "auto", "low", "high");
        return new ImagePart(url, detail);
    }

    private static AudioPart ParseAudio(JsonObject audio, string at)
    {
        var data = RequiredString(audio, at, "data");
        var dataParam = PathOf(at, "data");
        if (data.Length == 0 || !System.Buffers.Text.Base64.IsValid(data))
            throw new InvalidFieldException(dataParam, $"`{dataParam}` must be base64-encoded audio.");
        var format = OneOf(RequiredString(audio, at, "format"), PathOf(at, "format"), AudioFormats);
        return new AudioPart(data, format);
    }

    private static FilePart ParseFile(JsonObject file, string at)
    {
        var fileData = OptionalString(file, at, "file_data");
        var fileId = OptionalString(file, at, "file_id");
        var filename = OptionalString(file, at, "filename");
        if (fileData is null && fileId is null)
            throw new InvalidFieldException(at, $"`{at}` needs either `file_data` (a base64 data URI) or `file_id`.");
        if (fileData is not null && fileId is not null)
            throw new InvalidFieldException(at, $"`{at}` takes `file_data` or `file_id`, not both.");
        if (fileData is not null && !DataUri.TryParse(fileData, out _))
        {
            var param = PathOf(at, "file_data");
            throw new InvalidFieldException(param, $"`{param}` must be a base64 data URI, like data:application/pdf;base64,<data>.");
        }
        if (fileId is { Length: 0 })
            throw new InvalidFieldException(PathOf(at, "file_id"), $"`{PathOf(at, "file_id")}` must not be empty.");
        return new FilePart(filename, fileData, fileId);
    }
}
