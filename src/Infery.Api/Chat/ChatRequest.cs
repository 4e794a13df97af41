using System.Text.Json.Nodes;

namespace Infery.Api.Chat;

/// <summary>
/// A validated OpenAI chat completion request. <see cref="Body"/> keeps the JSON as the client sent it,
/// so OpenAI-compatible upstreams receive fields this gateway does not know about.
/// </summary>
public sealed record ChatRequest
{
    public required JsonObject Body { get; init; }
    public required string Model { get; init; }
    public required IReadOnlyList<ChatMessage> Messages { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    /// <summary>max_completion_tokens, else max_tokens; null when the client set neither.</summary>
    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    public long? Seed { get; init; }
    public int N { get; init; } = 1;
    public IReadOnlyList<string> Stop { get; init; } = [];
    public IReadOnlyList<ToolDefinition> Tools { get; init; } = [];
    public ToolChoice? ToolChoice { get; init; }
    public bool? ParallelToolCalls { get; init; }
    public ResponseFormat? ResponseFormat { get; init; }
    public string? User { get; init; }
}

/// <summary>system, developer, user, assistant or tool.</summary>
public sealed record ChatMessage(
    string Role,
    IReadOnlyList<ContentPart> Content,
    string? Name = null,
    IReadOnlyList<ToolCall>? ToolCalls = null,
    string? ToolCallId = null)
{
    /// <summary>The text parts joined: what most providers and the simulator read.</summary>
    public string Text => string.Concat(Content.OfType<TextPart>().Select(p => p.Text));
}

public abstract record ContentPart;

public sealed record TextPart(string Text) : ContentPart;

/// <summary>An http(s) URL or a data: URI.</summary>
public sealed record ImagePart(string Url, string? Detail) : ContentPart;

/// <summary>Base64 audio with its format (wav, mp3, pcm16, webm).</summary>
public sealed record AudioPart(string Data, string Format) : ContentPart;

/// <summary>
/// A file inline as a data: URI (<see cref="FileData"/>) or by id from the Files API. <see cref="Pages"/> is a PDF's
/// page count once the gateway has read it; until then the estimate finds the pages itself.
/// </summary>
public sealed record FilePart(string? Filename, string? FileData, string? FileId, int? Pages = null) : ContentPart;

public sealed record ToolCall(string Id, string Name, string Arguments);

public sealed record ToolDefinition(string Name, string? Description, JsonObject? Parameters, bool Strict);

/// <summary>none, auto, required, or a named function.</summary>
public sealed record ToolChoice(string Mode, string? FunctionName = null)
{
    public static readonly ToolChoice None = new("none");
    public static readonly ToolChoice Auto = new("auto");
    public static readonly ToolChoice Required = new("required");
}

/// <summary>text, json_object or json_schema (with its name, schema and strictness).</summary>
public sealed record ResponseFormat(string Type, string? SchemaName = null, JsonObject? Schema = null, bool Strict = false);
