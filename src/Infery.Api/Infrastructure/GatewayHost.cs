using Infery.Api.Http;
using Infery.EventStore.Schema;
using Npgsql;

namespace Infery.Api.Infrastructure;

/// <summary>Composition of the gateway: services, middleware and every feature's routes.</summary>
public static class GatewayHost
{
    public const long MaxRequestBodyBytes = 32 * 1024 * 1024;

    public static WebApplicationBuilder AddInferyGateway(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(Database.ConnectionStringFrom(builder.Configuration)).Build());
        services.AddSingleton(sp => new Database(sp.GetRequiredService<NpgsqlDataSource>(), [SchemaModule.EventStore]));
        services.AddHostedService<SchemaInitializer>();
        return builder;
    }

    public static WebApplication UseInferyGateway(this WebApplication app)
    {
        app.UseRequestIds();
        app.UseErrorEnvelopes();
        return app;
    }
}
