namespace Infery.Api.Catalog;

// The catalog file as users write it (snake_case JSON). CatalogLoader validates it and turns it into a ModelCatalog.

internal sealed record CatalogFile(
    IReadOnlyList<ProviderEntry>? Providers,
    IReadOnlyList<ModelEntry>? Models);

internal sealed record ProviderEntry(
    string? Name,
    string? Kind,
    string? BaseUrl,
    string? ApiKeyEnv,
    int? ConnectMs,
    int? FirstByteMs,
    int? IdleMs);

internal sealed record ModelEntry(
    string? Slug,
    string? Provider,
    string? UpstreamModel,
    string? OwnedBy,
    long? Created,
    int? ContextWindow,
    int? MaxOutputTokens,
    CapabilitiesEntry? Capabilities,
    PricesEntry? Prices,
    IReadOnlyList<string>? Fallbacks,
    double? ImageTokenFactor = null);

internal sealed record CapabilitiesEntry(
    bool Vision,
    bool Pdf,
    bool Tools,
    bool JsonSchema,
    bool AudioInput,
    IReadOnlyList<string>? InputModalities,
    IReadOnlyList<string>? OutputModalities);

/// <summary>Credits per one million tokens. Cached input and cache writes cost the input price unless set.</summary>
internal sealed record PricesEntry(decimal? Input, decimal? CachedInput, decimal? CacheWrite, decimal? Output);

/// <summary>The catalog file cannot be used; the message says where and why.</summary>
public sealed class CatalogException(string message, Exception? inner = null) : Exception(message, inner);
