namespace Infery.Api.Catalog;

/// <summary>The wire protocol an upstream speaks; one adapter each.</summary>
public enum ProviderKind
{
    OpenAiCompatible,
    Anthropic,
    Gemini,
    Simulator,
}

/// <summary>An upstream endpoint from the catalog file. The key itself comes from the environment variable named here.</summary>
public sealed record ProviderConfig(
    string Name,
    ProviderKind Kind,
    Uri? BaseUrl,
    string? ApiKeyEnv,
    ProviderTimeouts Timeouts)
{
    public string? ApiKey => ApiKeyEnv is null ? null : Environment.GetEnvironmentVariable(ApiKeyEnv);
}

public sealed record ProviderTimeouts(TimeSpan Connect, TimeSpan FirstByte, TimeSpan Idle)
{
    public static ProviderTimeouts Default { get; } = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30));
}

public sealed record ModelCapabilities(
    bool Vision,
    bool Pdf,
    bool Tools,
    bool JsonSchema,
    bool AudioInput,
    IReadOnlyList<string> InputModalities,
    IReadOnlyList<string> OutputModalities);

/// <summary>Prices in micro-credits per one million tokens (1 credit = 1,000,000 micro-credits).</summary>
public sealed record ModelPrices(long InputPerMillion, long CachedInputPerMillion, long CacheWritePerMillion, long OutputPerMillion);

/// <summary>
/// A model slug clients name, and where and how it is served. <see cref="ImageTokenFactor"/> is how many times the
/// common rules' count of an image the model counts: gpt-4o-mini counts about 33 times gpt-4o's, at a lower price.
/// </summary>
public sealed record CatalogModel(
    string Slug,
    ProviderConfig Provider,
    string UpstreamModel,
    string OwnedBy,
    int ContextWindow,
    int MaxOutputTokens,
    ModelCapabilities Capabilities,
    ModelPrices Prices,
    double ImageTokenFactor = 1);
