using System.Text.Json.Nodes;

namespace Infery.Api.Providers;

/// <summary>
/// Usage normalised to OpenAI's meaning: <see cref="PromptTokens"/> counts every input token, and
/// <see cref="CachedTokens"/> (read from a prompt cache) and <see cref="CacheWriteTokens"/> (written to one)
/// are subsets of it, each priced at its own rate.
/// </summary>
public sealed record TokenUsage(int PromptTokens, int CompletionTokens, int CachedTokens = 0, int CacheWriteTokens = 0)
{
    public static readonly TokenUsage Zero = new(0, 0);

    public int UncachedPromptTokens => PromptTokens - CachedTokens - CacheWriteTokens;

    public int TotalTokens => PromptTokens + CompletionTokens;

    /// <summary>OpenAI's <c>usage</c> object.</summary>
    public JsonObject ToOpenAiJson() => new()
    {
        ["prompt_tokens"] = PromptTokens,
        ["completion_tokens"] = CompletionTokens,
        ["total_tokens"] = TotalTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = CachedTokens },
    };
}
