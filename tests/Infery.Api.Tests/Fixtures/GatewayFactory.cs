using Infery.Api.Infrastructure;
using Infery.Testing.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Infery.Api.Tests.Fixtures;

/// <summary>The gateway in memory, on a database of its own, ready once the schema is applied.</summary>
public class GatewayFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public string ConnectionString { get; private set; } = "";

    public virtual async Task InitializeAsync()
    {
        ConnectionString = await PostgresServer.CreateDatabaseAsync("api");
        await Services.GetRequiredService<Database>().WhenSchemaApplied.WaitAsync(TimeSpan.FromSeconds(30));
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("INFERY_DB", ConnectionString);
        builder.UseEnvironment("Testing");
    }

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();
}
