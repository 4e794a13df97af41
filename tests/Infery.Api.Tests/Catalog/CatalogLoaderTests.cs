using Infery.Api.Catalog;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging;

namespace Infery.Api.Tests.Catalog;

public class CatalogLoaderTests
{
    private static readonly Func<string, string?> NoKeys = _ => null;

    private static Func<string, string?> Keys(params string[] variables) =>
        name => variables.Contains(name) ? "key-value" : null;

    private static string Catalog(string providers, string models) =>
        $$"""{ "providers": [ {{providers}} ], "models": [ {{models}} ] }""";

    private const string Simulator = """{ "name": "sim", "kind": "simulator" }""";

    private static string Model(string slug, string provider = "sim", string extra = "", string prices = """{ "input": 1, "output": 2 }""") =>
        $$"""
        { "slug": "{{slug}}", "provider": "{{provider}}", "context_window": 1000, "max_output_tokens": 100,
          "prices": {{prices}} {{extra}} }
        """;

    [Fact]
    public void The_shipped_catalog_serves_the_simulator_models_without_any_keys()
    {
        var catalog = CatalogLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "catalog.json"), environment: NoKeys);

        catalog.All.Select(m => m.Slug).ShouldBe(["sim-chat", "sim-claude", "sim-flaky", "llama3.1"]);
        catalog.TryGet("sim-chat", out var chat).ShouldBeTrue();
        chat.Capabilities.ShouldBe(chat.Capabilities with { Vision = true, Pdf = false, Tools = true, JsonSchema = true, AudioInput = true });
        chat.Capabilities.InputModalities.ShouldBe(["text", "image", "audio"]);
        chat.Capabilities.OutputModalities.ShouldBe(["text"]);
        chat.Provider.Kind.ShouldBe(ProviderKind.Simulator);
        catalog.TryGet("sim-claude", out var claude).ShouldBeTrue();
        claude.Capabilities.AudioInput.ShouldBeFalse();
        claude.Capabilities.Pdf.ShouldBeTrue();
        catalog.DefaultFallbacks("sim-flaky").ShouldBe(["sim-chat"]);
        catalog.TryGet("gpt-4o-mini", out _).ShouldBeFalse();
    }

    [Fact]
    public void The_shipped_catalog_serves_a_keyed_provider_once_its_key_is_set()
    {
        var catalog = CatalogLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "catalog.json"),
            environment: Keys("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "XAI_API_KEY"));

        catalog.TryGet("gpt-4o-mini", out var mini).ShouldBeTrue();
        mini.Provider.Kind.ShouldBe(ProviderKind.OpenAiCompatible);
        mini.Provider.BaseUrl.ShouldBe(new Uri("https://api.openai.com/v1/"));
        mini.Prices.ShouldBe(new ModelPrices(150_000, 75_000, 150_000, 600_000));
        mini.ImageTokenFactor.ShouldBe(33.34);
        catalog.TryGet("claude-sonnet-4-5", out var sonnet).ShouldBeTrue();
        sonnet.Provider.Kind.ShouldBe(ProviderKind.Anthropic);
        catalog.TryGet("gemini-2-5-flash", out var flash).ShouldBeTrue();
        flash.Provider.Kind.ShouldBe(ProviderKind.Gemini);
        flash.UpstreamModel.ShouldBe("gemini-2.5-flash");
        catalog.TryGet("gpt-4o", out var gpt4o).ShouldBeTrue();
        gpt4o.Prices.ShouldBe(new ModelPrices(2_500_000, 1_250_000, 2_500_000, 10_000_000));
        catalog.TryGet("grok-4", out var grok).ShouldBeTrue();
        grok.Provider.Kind.ShouldBe(ProviderKind.OpenAiCompatible);
        grok.Provider.BaseUrl.ShouldBe(new Uri("https://api.x.ai/v1/"));
        grok.Provider.ApiKeyEnv.ShouldBe("XAI_API_KEY");
        catalog.TryGet("llama3.1", out var llama).ShouldBeTrue();
        llama.Provider.ApiKeyEnv.ShouldBeNull();
    }

    [Fact]
    public void Prices_convert_exactly_to_micro_credits_per_million()
    {
        var json = Catalog(Simulator, Model("m",
            prices: """{ "input": 0.000001, "cached_input": 0.3, "cache_write": 3.75, "output": 1234.567891 }"""));

        var model = Single(CatalogLoader.LoadJson(json, environment: NoKeys));

        model.Prices.ShouldBe(new ModelPrices(1, 300_000, 3_750_000, 1_234_567_891));
    }

    [Fact]
    public void Cached_input_and_cache_write_default_to_the_input_price()
    {
        var model = Single(CatalogLoader.LoadJson(Catalog(Simulator, Model("m")), environment: NoKeys));

        model.Prices.ShouldBe(new ModelPrices(1_000_000, 1_000_000, 1_000_000, 2_000_000));
    }

    [Fact]
    public void Optional_fields_take_their_defaults()
    {
        var model = Single(CatalogLoader.LoadJson(Catalog(Simulator, Model("m")), environment: NoKeys));

        model.UpstreamModel.ShouldBe("m");
        model.OwnedBy.ShouldBe("sim");
        model.Provider.Timeouts.ShouldBe(ProviderTimeouts.Default);
        model.Capabilities.Vision.ShouldBeFalse();
        model.Capabilities.InputModalities.ShouldBe(["text"]);
        model.ImageTokenFactor.ShouldBe(1);
    }

    [Fact]
    public void Provider_timeouts_are_read_in_milliseconds()
    {
        var provider = """
            { "name": "up", "kind": "openai", "base_url": "http://localhost:9/v1", "connect_ms": 1500, "first_byte_ms": 20000, "idle_ms": 5000 }
            """;

        var model = Single(CatalogLoader.LoadJson(Catalog(provider, Model("m", "up")), environment: NoKeys));

        model.Provider.Timeouts.ShouldBe(new ProviderTimeouts(
            TimeSpan.FromMilliseconds(1500), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(5)));
        model.Provider.BaseUrl.ShouldBe(new Uri("http://localhost:9/v1/"));
    }

    [Fact]
    public void Models_of_a_provider_without_its_key_are_hidden_with_one_warning()
    {
        var provider = """{ "name": "paid", "kind": "anthropic", "base_url": "https://example.test/", "api_key_env": "PAID_KEY" }""";
        var logger = new ListLogger();

        var catalog = CatalogLoader.LoadJson(
            Catalog($"{Simulator}, {provider}", $"{Model("a", "paid")}, {Model("b", "paid")}, {Model("free")}"),
            logger, NoKeys);

        catalog.All.Select(m => m.Slug).ShouldBe(["free"]);
        catalog.TryGet("a", out _).ShouldBeFalse();
        var warning = logger.Messages.ShouldHaveSingleItem();
        warning.ShouldContain("PAID_KEY");
        warning.ShouldContain("a, b");
    }

    [Fact]
    public void Fallbacks_to_hidden_models_are_skipped()
    {
        var provider = """{ "name": "paid", "kind": "gemini", "base_url": "https://example.test/", "api_key_env": "PAID_KEY" }""";
        var json = Catalog($"{Simulator}, {provider}",
            $"""{Model("hidden", "paid")}, {Model("other")}, {Model("main", extra: ", \"fallbacks\": [\"hidden\", \"other\"]")}""");

        CatalogLoader.LoadJson(json, environment: NoKeys).DefaultFallbacks("main").ShouldBe(["other"]);
        CatalogLoader.LoadJson(json, environment: Keys("PAID_KEY")).DefaultFallbacks("main").ShouldBe(["hidden", "other"]);
    }

    [Fact]
    public void An_unknown_slug_has_no_fallbacks()
    {
        CatalogLoader.LoadJson(Catalog(Simulator, Model("m")), environment: NoKeys).DefaultFallbacks("nope").ShouldBeEmpty();
    }

    [Fact]
    public void The_path_comes_from_INFERY_CATALOG_else_the_content_root_else_beside_the_gateway()
    {
        var contentRoot = Directory.CreateTempSubdirectory("infery-content-root-").FullName;
        try
        {
            CatalogLoader.ResolvePath(contentRoot, name => name == "INFERY_CATALOG" ? "/etc/infery/models.json" : null)
                .ShouldBe("/etc/infery/models.json");
            CatalogLoader.ResolvePath(contentRoot, _ => null).ShouldBe(Path.Combine(AppContext.BaseDirectory, "catalog.json"));

            File.WriteAllText(Path.Combine(contentRoot, "catalog.json"), "{}");
            CatalogLoader.ResolvePath(contentRoot, _ => null).ShouldBe(Path.Combine(contentRoot, "catalog.json"));
        }
        finally
        {
            Directory.Delete(contentRoot, recursive: true);
        }
    }

    [Fact]
    public void The_catalog_is_registered_from_the_content_root()
    {
        using var provider = CatalogServices(new Dictionary<string, string?>());

        provider.GetRequiredService<ModelCatalog>().TryGet("sim-chat", out _).ShouldBeTrue();
    }

    [Fact]
    public void INFERY_CATALOG_is_read_from_configuration_not_only_the_environment()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("infery-catalog-").FullName, "models.json");
        File.WriteAllText(path, $$"""{ "providers": [{{Simulator}}], "models": [{{Model("only-this", "sim")}}] }""");

        using var provider = CatalogServices(new Dictionary<string, string?> { ["INFERY_CATALOG"] = path });

        provider.GetRequiredService<ModelCatalog>().All.Select(m => m.Slug).ShouldBe(["only-this"]);
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    private static ServiceProvider CatalogServices(Dictionary<string, string?> settings) => new ServiceCollection()
        .AddLogging()
        .AddSingleton<IHostEnvironment>(new HostingEnvironment { ContentRootPath = AppContext.BaseDirectory })
        .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
        .AddModelCatalog()
        .BuildServiceProvider();

    [Fact]
    public void A_missing_file_is_a_clear_error()
    {
        var error = Should.Throw<CatalogException>(() => CatalogLoader.LoadFile("/nonexistent/catalog.json"));
        error.Message.ShouldContain("/nonexistent/catalog.json");
    }

    public static TheoryData<string, string> InvalidCatalogs => new()
    {
        { Catalog(Simulator, Model("m", "nobody")), "models[0].provider 'nobody' is not declared" },
        { Catalog(Simulator, $"{Model("m")}, {Model("m")}"), "models[1]: the slug 'm' is used twice" },
        { Catalog($"{Simulator}, {Simulator}", Model("m")), "providers[1]: the provider name 'sim' is used twice" },
        { Catalog(Simulator, Model("m").Replace("\"input\": 1", "\"input\": -0.5")), "models[0].prices.input is negative" },
        { Catalog(Simulator, Model("m").Replace("\"output\": 2", "\"output\": 0.0000001")), "models[0].prices.output (0.0000001) has more than 6 decimal places" },
        { Catalog(Simulator, Model("m").Replace(", \"output\": 2", "")), "models[0].prices.output is required" },
        { Catalog(Simulator, Model("m").Replace("\"context_window\": 1000", "\"context_window\": 0")), "models[0].context_window must be a positive number" },
        { Catalog(Simulator, Model("m").Replace("\"slug\": \"m\",", "")), "models[0].slug is required" },
        { Catalog("""{ "name": "x", "kind": "bedrock", "base_url": "https://a.test/" }""", ""), "providers[0].kind 'bedrock' is unknown" },
        { Catalog("""{ "name": "x", "kind": "openai" }""", ""), "providers[0].base_url is required" },
        { Catalog("""{ "name": "x", "kind": "openai", "base_url": "ftp://a.test/" }""", ""), "providers[0].base_url 'ftp://a.test/' is not an absolute http(s) URL" },
        { Catalog("""{ "name": "x", "kind": "simulator", "idle_ms": -1 }""", ""), "providers[0].idle_ms must be a positive number" },
        { Catalog(Simulator, Model("m", extra: ", \"fallbacks\": [\"ghost\"]")), "models[0].fallbacks[0] 'ghost' is not a model" },
        { Catalog(Simulator, Model("m", extra: ", \"fallbacks\": [\"m\"]")), "cannot fall back to itself" },
        { Catalog(Simulator, Model("m", extra: ", \"pricing\": {}")), "pricing" },
        { Catalog(Simulator, Model("m", extra: ", \"image_token_factor\": 0.5")), "models[0].image_token_factor must be between 1 and 1000" },
        { Catalog(Simulator, Model("m").Replace("\"input\": 1", "\"input\": \"cheap\"")), "$.models[0].prices.input" },
        { "[]", "Model catalog" },
        { "{ not json", "Model catalog" },
        { """{ "providers": [null] }""", "providers[0] is null" },
    };

    [Theory]
    [MemberData(nameof(InvalidCatalogs))]
    public void Invalid_catalogs_are_rejected_with_a_message_naming_the_problem(string json, string expected)
    {
        var error = Should.Throw<CatalogException>(() => CatalogLoader.LoadJson(json, environment: NoKeys));

        error.Message.ShouldContain(expected);
    }

    private static CatalogModel Single(ModelCatalog catalog) => catalog.All.ShouldHaveSingleItem();

    private sealed class ListLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }
}
