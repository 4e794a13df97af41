using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Infery.Api.Infrastructure;
using Infery.Testing.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Infery.Api.Tests.Fixtures;

/// <summary>
/// The gateway in memory, on a database of its own, ready once the schema is applied; with helpers to
/// make workspaces, grant credits and issue keys through the admin API, as an operator would.
/// </summary>
public class GatewayFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string AdminToken = "adm_test_token_0123456789";

    private string? sharedDatabase;

    public string ConnectionString { get; protected set; } = "";

    /// <summary>Where this gateway keeps the charges it owes: a file of its own, as each instance has.</summary>
    public string OwedChargesJournal { get; private init; } = Path.Combine(Path.GetTempPath(), $"infery-owed-{Guid.NewGuid():N}.jsonl");

    /// <summary>A second gateway instance on the same database, as behind a load balancer.</summary>
    public static async Task<GatewayFactory> SecondInstanceOf(GatewayFactory first)
    {
        var second = new GatewayFactory { sharedDatabase = first.ConnectionString };
        await second.InitializeAsync();
        return second;
    }

    /// <summary>The same gateway started again, once <paramref name="stopped"/> is disposed: its database and its journal.</summary>
    public static async Task<GatewayFactory> RestartOf(GatewayFactory stopped)
    {
        var again = new GatewayFactory { sharedDatabase = stopped.ConnectionString, OwedChargesJournal = stopped.OwedChargesJournal };
        await again.InitializeAsync();
        return again;
    }

    /// <summary>A catalog file to serve instead of the shipped one (e.g. models pointing at fake upstreams).</summary>
    protected virtual string? CatalogPath => null;

    /// <summary>Further configuration for this gateway, e.g. resilience settings.</summary>
    protected virtual IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>();

    public virtual async Task InitializeAsync()
    {
        ConnectionString = sharedDatabase ?? await PostgresServer.CreateDatabaseAsync("api");
        await Services.GetRequiredService<Database>().WhenSchemaApplied.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>How the gateway reaches its database; tests read it directly at <see cref="ConnectionString"/>.</summary>
    protected virtual string GatewayConnectionString(string database) => database;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("INFERY_DB", GatewayConnectionString(ConnectionString));
        builder.UseSetting("INFERY_ADMIN_TOKEN", AdminToken);
        builder.UseSetting("OwedCharges:JournalPath", OwedChargesJournal);
        if (CatalogPath is { } catalog)
            builder.UseSetting("INFERY_CATALOG", catalog);
        foreach (var (name, value) in Settings)
            builder.UseSetting(name, value);
        builder.UseEnvironment("Testing");
    }

    public HttpClient AdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        return client;
    }

    public HttpClient KeyClient(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>What the key's workspace holds reserved for requests in flight, as /v1/credits shows it.</summary>
    public async Task<string> ReservedAsync(string key) =>
        JsonNode.Parse(await KeyClient(key).GetStringAsync("/v1/credits"))!["reserved"]!.GetValue<string>();

    /// <summary>A new workspace with the given credits and one key; returns the workspace id and the key.</summary>
    public async Task<(string WorkspaceId, string Key)> NewWorkspaceWithKeyAsync(decimal credits, int? rpm = 100_000)
    {
        var admin = AdminClient();
        var workspace = await PostAsync(admin, "/admin/v1/workspaces", new { name = "test workspace" });
        var id = workspace["id"]!.GetValue<string>();
        if (credits > 0)
            await PostAsync(admin, $"/admin/v1/workspaces/{id}/credits", new { amount = credits, reason = "test top-up" });
        var key = await PostAsync(admin, $"/admin/v1/workspaces/{id}/keys", rpm is null ? new { name = "test key" } : new { name = "test key", rpm });
        return (id, key["key"]!.GetValue<string>());
    }

    private static async Task<JsonObject> PostAsync(HttpClient client, string path, object body)
    {
        var response = await client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST {path} → {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Keep the journal when this gateway is disposed, for <see cref="RestartOf"/> to take up what it owes.</summary>
    public bool KeepsOwedChargesJournal { get; set; }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (!KeepsOwedChargesJournal)
            File.Delete(OwedChargesJournal);
    }

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();
}
