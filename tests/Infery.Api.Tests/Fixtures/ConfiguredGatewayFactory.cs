using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Infery.Api.Tests.Fixtures;

/// <summary>The gateway with extra configuration settings and, optionally, a catalog written to a temporary file and further services.</summary>
public class ConfiguredGatewayFactory(
    IReadOnlyDictionary<string, string> settings, string? catalogJson = null, Action<IServiceCollection>? services = null) : GatewayFactory
{
    private readonly string? catalogPath = catalogJson is null ? null : WriteCatalog(catalogJson);

    protected override string? CatalogPath => catalogPath;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        foreach (var (key, value) in settings)
            builder.UseSetting(key, value);
        if (services is not null)
            builder.ConfigureServices(services);
    }

    /// <summary>Quick retries, and a breaker that never opens, unless a test says otherwise.</summary>
    public static Dictionary<string, string> QuickRetries(params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string>
        {
            ["Resilience:RetryBaseDelayMs"] = "5",
            ["Resilience:RetryMaxDelayMs"] = "20",
            ["Resilience:CircuitBreaker:MinimumThroughput"] = "100000",
        };
        foreach (var (key, value) in overrides)
            settings[key] = value;
        return settings;
    }

    private static string WriteCatalog(string json)
    {
        var directory = Directory.CreateTempSubdirectory("infery-catalog-");
        var path = Path.Combine(directory.FullName, "catalog.json");
        File.WriteAllText(path, json);
        return path;
    }
}
