using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging.Abstractions;

namespace Infery.Api.Catalog;

/// <summary>
/// Reads the providers and models from the catalog file a user edits. Models of a provider whose API key
/// variable is empty are left out with a warning, so a fresh install lists only models that can answer.
/// </summary>
public static class CatalogLoader
{
    /// <summary>The environment variable naming the catalog file; else <see cref="DefaultFileName"/> (see <see cref="ResolvePath"/>).</summary>
    public const string PathVariable = "INFERY_CATALOG";

    public const string DefaultFileName = "catalog.json";

    private const decimal MicroCreditsPerCredit = 1_000_000m;

    private static readonly JsonSerializerOptions FileOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>
    /// The configured file; else the one in the content root; else, for a gateway started from another directory, the
    /// one shipped beside it.
    /// </summary>
    public static string ResolvePath(string contentRoot, Func<string, string?>? environment = null)
    {
        var configured = (environment ?? Environment.GetEnvironmentVariable)(PathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
            return configured;
        var inContentRoot = Path.Combine(contentRoot, DefaultFileName);
        var shipped = Path.Combine(AppContext.BaseDirectory, DefaultFileName);
        return !File.Exists(inContentRoot) && File.Exists(shipped) ? shipped : inContentRoot;
    }

    public static ModelCatalog LoadFile(string path, ILogger? logger = null, Func<string, string?>? environment = null)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CatalogException($"Cannot read the model catalog '{path}': {e.Message}", e);
        }
        return Load(json, path, logger, environment);
    }

    /// <summary>Loads a catalog from JSON text; <paramref name="source"/> names it in error messages.</summary>
    public static ModelCatalog LoadJson(string json, ILogger? logger = null, Func<string, string?>? environment = null) =>
        Load(json, "(inline JSON)", logger, environment);

    private static ModelCatalog Load(string json, string source, ILogger? logger, Func<string, string?>? environment)
    {
        logger ??= NullLogger.Instance;
        environment ??= Environment.GetEnvironmentVariable;

        CatalogFile file;
        try
        {
            file = JsonSerializer.Deserialize<CatalogFile>(json, FileOptions)
                ?? throw new CatalogException($"Model catalog {source}: the file is empty.");
        }
        catch (JsonException e)
        {
            throw new CatalogException($"Model catalog {source}: {e.Message}", e);
        }

        try
        {
            return Build(file, logger, environment);
        }
        catch (CatalogException e)
        {
            throw new CatalogException($"Model catalog {source}: {e.Message}", e);
        }
    }

    private static ModelCatalog Build(CatalogFile file, ILogger logger, Func<string, string?> environment)
    {
        var providers = new Dictionary<string, ProviderConfig>(StringComparer.Ordinal);
        foreach (var (entry, i) in (file.Providers ?? []).Select((p, i) => (p, i)))
        {
            var provider = ToProvider(entry ?? throw new CatalogException($"providers[{i}] is null."), $"providers[{i}]");
            if (!providers.TryAdd(provider.Name, provider))
                throw new CatalogException($"providers[{i}]: the provider name '{provider.Name}' is used twice.");
        }

        var declaredSlugs = new HashSet<string>(StringComparer.Ordinal);
        var served = new List<CatalogModel>();
        var fallbacks = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var created = new Dictionary<string, long>(StringComparer.Ordinal);
        var hiddenByProvider = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var models = file.Models ?? [];
        foreach (var (entry, i) in models.Select((m, i) => (m, i)))
        {
            var at = $"models[{i}]";
            var model = ToModel(entry ?? throw new CatalogException($"{at} is null."), at, providers);
            if (!declaredSlugs.Add(model.Slug))
                throw new CatalogException($"{at}: the slug '{model.Slug}' is used twice.");
            fallbacks[model.Slug] = entry.Fallbacks ?? [];
            created[model.Slug] = entry.Created ?? 0;

            if (IsMissingKey(model.Provider, environment))
            {
                if (!hiddenByProvider.TryGetValue(model.Provider.Name, out var hidden))
                    hiddenByProvider[model.Provider.Name] = hidden = [];
                hidden.Add(model.Slug);
            }
            else
                served.Add(model);
        }

        foreach (var (entry, i) in models.Select((m, i) => (m, i)))
            CheckFallbacks(entry, $"models[{i}].fallbacks", declaredSlugs);

        foreach (var (providerName, slugs) in hiddenByProvider)
        {
            logger.LogWarning(
                "Provider {Provider} is skipped because {KeyVariable} is not set; not serving: {Models}",
                providerName, providers[providerName].ApiKeyEnv, string.Join(", ", slugs));
        }

        return new ModelCatalog(served, fallbacks, created);
    }

    private static bool IsMissingKey(ProviderConfig provider, Func<string, string?> environment) =>
        provider.ApiKeyEnv is not null && string.IsNullOrWhiteSpace(environment(provider.ApiKeyEnv));

    private static ProviderConfig ToProvider(ProviderEntry entry, string at)
    {
        var name = Required(entry.Name, $"{at}.name");
        var kind = entry.Kind switch
        {
            "openai" => ProviderKind.OpenAiCompatible,
            "anthropic" => ProviderKind.Anthropic,
            "gemini" => ProviderKind.Gemini,
            "simulator" => ProviderKind.Simulator,
            null => throw new CatalogException($"{at}.kind is required (openai, anthropic, gemini or simulator)."),
            var other => throw new CatalogException($"{at}.kind '{other}' is unknown; use openai, anthropic, gemini or simulator."),
        };

        Uri? baseUrl = null;
        if (entry.BaseUrl is not null)
        {
            var text = entry.BaseUrl.EndsWith('/') ? entry.BaseUrl : entry.BaseUrl + "/";
            if (!Uri.TryCreate(text, UriKind.Absolute, out baseUrl) || baseUrl.Scheme is not ("http" or "https"))
                throw new CatalogException($"{at}.base_url '{entry.BaseUrl}' is not an absolute http(s) URL.");
        }
        else if (kind != ProviderKind.Simulator)
            throw new CatalogException($"{at}.base_url is required for a provider of kind '{entry.Kind}'.");

        if (entry.ApiKeyEnv is not null && string.IsNullOrWhiteSpace(entry.ApiKeyEnv))
            throw new CatalogException($"{at}.api_key_env must name an environment variable, or be left out.");

        var defaults = ProviderTimeouts.Default;
        var timeouts = new ProviderTimeouts(
            Milliseconds(entry.ConnectMs, $"{at}.connect_ms") ?? defaults.Connect,
            Milliseconds(entry.FirstByteMs, $"{at}.first_byte_ms") ?? defaults.FirstByte,
            Milliseconds(entry.IdleMs, $"{at}.idle_ms") ?? defaults.Idle);
        return new ProviderConfig(name, kind, baseUrl, entry.ApiKeyEnv, timeouts);
    }

    private static CatalogModel ToModel(ModelEntry entry, string at, IReadOnlyDictionary<string, ProviderConfig> providers)
    {
        var slug = Required(entry.Slug, $"{at}.slug");
        var providerName = Required(entry.Provider, $"{at}.provider");
        if (!providers.TryGetValue(providerName, out var provider))
            throw new CatalogException($"{at}.provider '{providerName}' is not declared under providers.");

        var contextWindow = Positive(entry.ContextWindow, $"{at}.context_window");
        var maxOutputTokens = Positive(entry.MaxOutputTokens, $"{at}.max_output_tokens");
        return new CatalogModel(
            slug,
            provider,
            string.IsNullOrWhiteSpace(entry.UpstreamModel) ? slug : entry.UpstreamModel,
            string.IsNullOrWhiteSpace(entry.OwnedBy) ? provider.Name : entry.OwnedBy,
            contextWindow,
            maxOutputTokens,
            ToCapabilities(entry.Capabilities),
            ToPrices(entry.Prices, $"{at}.prices"),
            ImageTokenFactor(entry.ImageTokenFactor, $"{at}.image_token_factor"));
    }

    private static double ImageTokenFactor(double? factor, string at) => factor switch
    {
        null => 1,
        >= 1 and <= 1_000 => factor.Value,
        _ => throw new CatalogException($"{at} must be between 1 and 1000 (how many times the common rules' count of an image the model counts)."),
    };

    private static ModelCapabilities ToCapabilities(CapabilitiesEntry? entry)
    {
        IReadOnlyList<string> textOnly = ["text"];
        if (entry is null)
            return new ModelCapabilities(false, false, false, false, false, textOnly, textOnly);
        return new ModelCapabilities(
            entry.Vision, entry.Pdf, entry.Tools, entry.JsonSchema, entry.AudioInput,
            entry.InputModalities ?? textOnly, entry.OutputModalities ?? textOnly);
    }

    private static ModelPrices ToPrices(PricesEntry? entry, string at)
    {
        if (entry is null)
            throw new CatalogException($"{at} is required (credits per 1M tokens: input, output, optional cached_input and cache_write).");
        var input = MicroCredits(entry.Input ?? throw new CatalogException($"{at}.input is required."), $"{at}.input");
        var output = MicroCredits(entry.Output ?? throw new CatalogException($"{at}.output is required."), $"{at}.output");
        var cachedInput = entry.CachedInput is { } cached ? MicroCredits(cached, $"{at}.cached_input") : input;
        var cacheWrite = entry.CacheWrite is { } write ? MicroCredits(write, $"{at}.cache_write") : input;
        return new ModelPrices(input, cachedInput, cacheWrite, output);
    }

    /// <summary>Credits (a decimal with up to 6 places) to micro-credits, exactly.</summary>
    private static long MicroCredits(decimal credits, string at)
    {
        if (credits < 0)
            throw new CatalogException($"{at} is negative ({credits}); prices must be zero or more.");
        var micro = credits * MicroCreditsPerCredit;
        if (micro != decimal.Truncate(micro))
            throw new CatalogException($"{at} ({credits}) has more than 6 decimal places; prices are kept in micro-credits.");
        if (micro > long.MaxValue)
            throw new CatalogException($"{at} ({credits}) is too large.");
        return (long)micro;
    }

    private static void CheckFallbacks(ModelEntry entry, string at, HashSet<string> declaredSlugs)
    {
        foreach (var (fallback, i) in (entry.Fallbacks ?? []).Select((f, i) => (f, i)))
        {
            if (fallback is null || !declaredSlugs.Contains(fallback))
                throw new CatalogException($"{at}[{i}] '{fallback}' is not a model in this catalog.");
            if (fallback == entry.Slug)
                throw new CatalogException($"{at}[{i}]: a model cannot fall back to itself.");
        }
    }

    private static string Required(string? value, string at) =>
        string.IsNullOrWhiteSpace(value) ? throw new CatalogException($"{at} is required.") : value;

    private static int Positive(int? value, string at) => value switch
    {
        null => throw new CatalogException($"{at} is required."),
        <= 0 => throw new CatalogException($"{at} must be a positive number, not {value}."),
        _ => value.Value,
    };

    private static TimeSpan? Milliseconds(int? value, string at) => value switch
    {
        null => null,
        <= 0 => throw new CatalogException($"{at} must be a positive number of milliseconds, not {value}."),
        _ => TimeSpan.FromMilliseconds(value.Value),
    };
}
