using System.Text.Json;
using Infery.Api.Catalog;
using Infery.Api.Features.ApiKeys;
using Infery.Api.Features.Admin;
using Infery.Api.Features.Chat;
using Infery.Api.Features.Credits;
using Infery.Api.Features.Fallbacks;
using Infery.Api.Features.Health;
using Infery.Api.Features.Models;
using Infery.Api.Features.Workspaces;
using Infery.Api.Gateway;
using Infery.Api.Gateway.Auth;
using Infery.Api.Gateway.Billing;
using Infery.Api.Gateway.ClientAddresses;
using Infery.Api.Gateway.Fallbacks;
using Infery.Api.Gateway.Idempotency;
using Infery.Api.Gateway.Resilience;
using Infery.Api.Gateway.RateLimiting;
using Infery.Api.Http;
using Infery.Api.Providers;
using Infery.Api.Providers.Pdf;
using Infery.Domain;
using Infery.Domain.Credits;
using Infery.EventStore;
using Infery.EventStore.Schema;
using Infery.Projections;
using Infery.Projections.ApiKeys;
using Infery.Projections.Balances;
using Infery.Projections.Fallbacks;
using Infery.Projections.Workspaces;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Infery.Api.Infrastructure;

/// <summary>Composition of the gateway: services, middleware and every feature's routes.</summary>
public static class GatewayHost
{
    public const long MaxRequestBodyBytes = 32 * 1024 * 1024;

    /// <summary>The gateway's own tables that are not projections of events (Sql/*.sql in this assembly).</summary>
    public static SchemaModule GatewaySchema { get; } = new("gateway", typeof(GatewayHost).Assembly);

    public static WebApplicationBuilder AddInferyGateway(this WebApplicationBuilder builder)
    {
        AddShippedSettings(builder.Configuration, builder.Environment.ContentRootPath, AppContext.BaseDirectory);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(InstanceIdentity.New());
        services.AddSingleton(_ => DataSourceFor(Database.ConnectionStringFrom(builder.Configuration)));
        services.AddSingleton(sp => new Database(sp.GetRequiredService<NpgsqlDataSource>(), [SchemaModule.EventStore, ProjectionsSchema.Module, GatewaySchema]));
        services.AddHostedService<SchemaInitializer>();

        services.AddSingleton(sp => new EventStore.EventStore(
            sp.GetRequiredService<NpgsqlDataSource>(),
            new EventTypeRegistry(DomainEventsJson.Default).RegisterAll(typeof(CreditsCharged).Assembly),
            new EventStoreOptions
            {
                Clock = sp.GetRequiredService<TimeProvider>(),
                InlineProjections =
                [
                    new WorkspacesProjection(),
                    new BalancesProjection(sp.GetRequiredService<InstanceIdentity>().Id),
                    new ApiKeysProjection(),
                    new FallbackChainsProjection(),
                ],
            }));
        services.AddSingleton<Aggregates>();

        services.AddSingleton<KeyDirectory>();
        services.AddOptions<FailedKeyLookupsOptions>().Bind(builder.Configuration.GetSection(FailedKeyLookupsOptions.Section))
            .Validate(auth => auth.IsValid, "Auth:MaxUnknownKeysPerAddress must be 0 or more, and Auth:WindowSeconds from 1 to 3600.")
            .ValidateOnStart();
        services.AddSingleton<FailedKeyLookups>();
        services.AddOptions<AddressRequestLimitOptions>().Bind(builder.Configuration.GetSection(AddressRequestLimitOptions.Section))
            .Validate(limit => limit.IsValid, "AddressLimit:MaxRequests must be 0 or more, and AddressLimit:WindowSeconds from 1 to 86400.")
            .ValidateOnStart();
        services.AddSingleton<AddressRequestLimit>();
        services.AddSingleton(new CreditLeaseOptions());
        services.AddSingleton<CreditAccounts>();
        services.AddHostedService<CreditLeaseKeeper>();
        services.AddSingleton<KeyRateLimiter>();
        services.AddHostedService<RateLimitWindowSweeper>();
        // A relative path is taken from the gateway's own directory, wherever it is started from.
        var owedChargesJournal = Path.Combine(AppContext.BaseDirectory,
            builder.Configuration["OwedCharges:JournalPath"] is { Length: > 0 } configured ? configured : "owed-charges.jsonl");
        services.AddSingleton(sp => new OwedChargeJournal(owedChargesJournal, sp.GetRequiredService<EventStore.EventStore>().Registry));
        services.AddSingleton<OwedCharges>();
        services.AddHostedService(sp => sp.GetRequiredService<OwedCharges>());
        services.AddSingleton<BillingGate>();
        services.AddHostedService(sp => sp.GetRequiredService<BillingGate>());
        services.AddSingleton<RequestBilling>();
        services.AddHostedService<NotificationListener>();

        services.AddModelCatalog();
        services.AddSingleton<ProviderRegistry>();
        services.Configure<ResilienceOptions>(builder.Configuration.GetSection(ResilienceOptions.Section));
        services.AddSingleton<FallbackChains>();
        services.AddSingleton<CircuitBreakers>();
        services.AddSingleton<FallbackRouter>();
        services.AddOptions<ShutdownOptions>().Bind(builder.Configuration.GetSection(ShutdownOptions.Section))
            .Validate<IOptions<HostOptions>>((shutdown, host) => shutdown.FitsWithin(host.Value.ShutdownTimeout),
                "Shutdown:ReadinessDelaySeconds must be from 0 to 300, and shorter than the shutdown timeout less five seconds: raise DOTNET_SHUTDOWNTIMEOUTSECONDS by as much.")
            .ValidateOnStart();
        services.AddSingleton<ShutdownDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<ShutdownDrain>());
        services.Configure<PdfConversionOptions>(builder.Configuration.GetSection(PdfConversionOptions.Section));
        services.AddSingleton<PdfConverter>();
        services.AddSingleton<ChatPipeline>();
        services.Configure<IdempotencyOptions>(builder.Configuration.GetSection(IdempotencyOptions.Section));
        services.AddSingleton<IdempotencyKeys>();
        services.AddHostedService<IdempotencyKeySweeper>();

        services.AddHostedService<DemoSeeder>();
        return builder;
    }

    /// <summary>
    /// Started from another directory (as <c>dotnet /opt/infery/Infery.Api.dll</c>), the content root is that directory
    /// and holds no appsettings.json; the one shipped beside the gateway then applies, under every other source.
    /// </summary>
    internal static void AddShippedSettings(IConfigurationBuilder configuration, string contentRoot, string gatewayDirectory)
    {
        const string file = "appsettings.json";
        if (File.Exists(Path.Combine(contentRoot, file)) || !File.Exists(Path.Combine(gatewayDirectory, file)))
            return;
        configuration.Sources.Insert(0, new JsonConfigurationSource { FileProvider = new PhysicalFileProvider(gatewayDirectory), Path = file, Optional = true });
    }

    /// <summary>
    /// The same few statements run for every request (the charge batch above all), so they are prepared once per
    /// connection rather than parsed and planned each time — unless the connection string says otherwise.
    /// </summary>
    private static NpgsqlDataSource DataSourceFor(string connectionString)
    {
        var dataSource = new NpgsqlDataSourceBuilder(connectionString);
        if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase))
            dataSource.ConnectionStringBuilder.MaxAutoPrepare = 64;
        return dataSource.Build();
    }

    public static WebApplication UseInferyGateway(this WebApplication app)
    {
        app.UseRequestIds();
        app.UseErrorEnvelopes();
        app.UseAddressRequestLimit();

        app.MapHealthApi();
        app.MapModelsApi().RequireApiKey();
        app.MapCreditsApi();
        app.MapChatCompletionsApi();
        app.MapAdminGroup()
            .MapWorkspacesAdminApi()
            .MapApiKeysAdminApi()
            .MapFallbackChainsAdminApi();
        return app;
    }
}
