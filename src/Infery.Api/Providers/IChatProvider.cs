using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;

namespace Infery.Api.Providers;

/// <summary>
/// One call to an upstream. <see cref="ResponseId"/> and <see cref="Created"/> are chosen by the gateway
/// and go into every response body and chunk, whatever the upstream's own id was.
/// </summary>
public sealed record ChatCall(ChatRequest Request, CatalogModel Model, string ResponseId, long Created);

/// <summary>
/// An OpenAI chat.completion body or chat.completion.chunk on its way to the client, in one of two forms: the
/// JSON object an adapter built, or UTF-8 JSON an adapter already wrote, which goes out as it is.
/// </summary>
public readonly struct ChatJson
{
    private readonly long receivedChars;

    private ChatJson(JsonObject? json, ReadOnlyMemory<byte> utf8, long receivedChars)
    {
        Object = json;
        Utf8 = utf8;
        this.receivedChars = receivedChars;
    }

    /// <summary>The JSON object, when an adapter built one; null when the JSON is <see cref="Utf8"/>.</summary>
    public JsonObject? Object { get; }

    /// <summary>The JSON as UTF-8 when there is no <see cref="Object"/>: one line, with no trailing newline.</summary>
    public ReadOnlyMemory<byte> Utf8 { get; }

    /// <summary>
    /// Characters (UTF-16 code units) of content and tool-call arguments in the deltas of a chunk's choices: the
    /// text the client receives with it, which a stream cut short is charged for at least. Counted from the
    /// object, or by the adapter that wrote the UTF-8; zero for a completion body, which has no deltas.
    /// </summary>
    public long ReceivedChars => Object is { } json ? CountReceivedChars(json) : receivedChars;

    public static implicit operator ChatJson(JsonObject json) => new(json, default, 0);

    public static ChatJson FromUtf8(ReadOnlyMemory<byte> utf8, long receivedChars = 0) => new(null, utf8, receivedChars);

    /// <summary>The JSON as an object: the one built, or the UTF-8 parsed afresh.</summary>
    public JsonObject ToObject() => Object ?? JsonNode.Parse(Utf8.Span)!.AsObject();

    /// <summary>Plain UTF-8 as upstreams send it, rather than \u0022-style escapes.</summary>
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the JSON out: the adapter's UTF-8 as it is, or its object serialised.</summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        if (Object is { } json)
        {
            using var writer = new Utf8JsonWriter(output, WriterOptions);
            json.WriteTo(writer);
        }
        else
            output.Write(Utf8.Span);
    }

    private static long CountReceivedChars(JsonObject chunk) =>
        chunk["choices"] is JsonArray choices ? GeneratedChars(choices, "delta") : 0;

    /// <summary>
    /// Characters of content and tool-call arguments in each choice's <paramref name="part"/>: "delta" in a chunk,
    /// "message" in a completion. What the client receives, and what an estimate of the output counts.
    /// </summary>
    public static long GeneratedChars(JsonArray choices, string part)
    {
        long chars = 0;
        foreach (var choice in choices)
        {
            if (choice is not JsonObject || choice[part] is not JsonObject said)
                continue;
            if (said["content"] is JsonValue content && content.TryGetValue<string>(out var text))
                chars += text.Length;
            if (said["tool_calls"] is JsonArray calls)
                foreach (var toolCall in calls)
                    if (toolCall is JsonObject && toolCall["function"] is JsonObject function
                        && function["arguments"] is JsonValue args && args.TryGetValue<string>(out var piece))
                        chars += piece.Length;
        }
        return chars;
    }
}

/// <summary>An OpenAI chat.completion body (model = the catalog slug) and the usage it is billed by.</summary>
public sealed record ChatResult(ChatJson Completion, TokenUsage Usage);

/// <summary>
/// One item of a stream: an OpenAI chat.completion.chunk to forward (with non-empty choices), optionally
/// with the upstream's usage so far; or, as the last item, the upstream's final usage. The latest usage
/// wins, so a stream cut short is still charged by the provider's own counts; a stream that never carried any
/// is charged by estimate. Adapters never yield the
/// usage-only chunk or [DONE]: the gateway writes those itself.
/// A chunk given as UTF-8 may lie in a buffer the adapter reuses for the next one: it is valid until the
/// enumerator moves on, so write it out (or copy it) before asking for the next item.
/// </summary>
public readonly record struct ChatStreamItem(ChatJson? Chunk, TokenUsage? Usage)
{
    public static ChatStreamItem Of(ChatJson chunk, TokenUsage? usageSoFar = null) =>
        new(chunk, usageSoFar == TokenUsage.Zero ? null : usageSoFar);

    public static ChatStreamItem Final(TokenUsage usage) => new(null, usage);
}

/// <summary>
/// Translates OpenAI chat requests to one wire protocol and its responses, chunks, usage and errors back.
/// Failures are thrown as <see cref="ProviderException"/>, before or during the stream.
/// </summary>
public interface IChatProvider
{
    Task<ChatResult> CompleteAsync(ChatCall call, CancellationToken ct);

    IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatCall call, CancellationToken ct);
}
