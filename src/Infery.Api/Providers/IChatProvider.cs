using System.Text.Json.Nodes;
using Infery.Api.Catalog;
using Infery.Api.Chat;

namespace Infery.Api.Providers;

/// <summary>
/// One call to an upstream. <see cref="ResponseId"/> and <see cref="Created"/> are chosen by the gateway
/// and go into every response body and chunk, whatever the upstream's own id was.
/// </summary>
public sealed record ChatCall(ChatRequest Request, CatalogModel Model, string ResponseId, long Created);

/// <summary>An OpenAI chat.completion body (model = the catalog slug) and the usage it is billed by.</summary>
public sealed record ChatResult(JsonObject Completion, TokenUsage Usage);

/// <summary>
/// One item of a stream: an OpenAI chat.completion.chunk to forward (with non-empty choices), optionally
/// with the upstream's usage so far; or, as the last item, the upstream's final usage. The latest usage
/// wins, so a stream cut short is still charged by the provider's own counts. Adapters never yield the
/// usage-only chunk or [DONE]: the gateway writes those itself.
/// </summary>
public readonly record struct ChatStreamItem(JsonObject? Chunk, TokenUsage? Usage)
{
    public static ChatStreamItem Of(JsonObject chunk, TokenUsage? usageSoFar = null) =>
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
