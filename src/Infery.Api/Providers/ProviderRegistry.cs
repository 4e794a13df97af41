using System.Collections.Concurrent;
using Infery.Api.Catalog;
using Infery.Api.Providers.Anthropic;
using Infery.Api.Providers.Gemini;
using Infery.Api.Providers.OpenAiCompatible;
using Infery.Api.Providers.Simulator;

namespace Infery.Api.Providers;

/// <summary>One adapter per configured provider, each with its own pooled HTTP client, made on first use.</summary>
public sealed class ProviderRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, (IChatProvider Provider, HttpClient? Http)> byName = new(StringComparer.Ordinal);

    public IChatProvider For(ProviderConfig config) =>
        byName.GetOrAdd(config.Name, _ => Create(config)).Provider;

    private static (IChatProvider, HttpClient?) Create(ProviderConfig config)
    {
        if (config.Kind == ProviderKind.Simulator)
            return (new SimulatorProvider(), null);
        var http = UpstreamHttp.CreateClient(config.Timeouts);
        IChatProvider provider = config.Kind switch
        {
            ProviderKind.OpenAiCompatible => new OpenAiCompatibleProvider(http),
            ProviderKind.Anthropic => new AnthropicProvider(http),
            ProviderKind.Gemini => new GeminiProvider(http),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Kind, "unknown provider kind"),
        };
        return (provider, http);
    }

    public void Dispose()
    {
        foreach (var (_, http) in byName.Values)
            http?.Dispose();
    }
}
