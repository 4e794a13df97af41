using Infery.Api.Gateway.Auth;
using Infery.Domain.ApiKeys;
using Infery.Domain.Credits;
using Infery.Domain.Workspaces;
using Infery.EventStore;
using Microsoft.AspNetCore.Hosting.Server;

namespace Infery.Api.Infrastructure;

/// <summary>
/// With INFERY_SEED_DEMO=1: a demo workspace with 100 credits (made once) and a fresh demo key each start,
/// printed with the admin token so a newcomer can make a first call straight away.
/// </summary>
public sealed class DemoSeeder(Database database, Aggregates aggregates, IConfiguration configuration, IServer server) : BackgroundService
{
    public const string WorkspaceId = "ws_demo";
    private const long StartingCredits = 100 * MicroCredits.PerCredit;

    private async Task<WorkspaceState> Execute(WorkspaceCommand command, EventMetadata metadata, CancellationToken ct) =>
        (await aggregates.ExecuteAsync(Workspace.StreamId(WorkspaceId), "workspace", WorkspaceState.Initial, Workspace.Evolve,
            (state, now) => Workspace.Decide(state, command, now), metadata, ct)).State;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (configuration["INFERY_SEED_DEMO"] != "1")
            return;
        await database.WhenSchemaApplied.WaitAsync(stoppingToken);

        var metadata = new EventMetadata(WorkspaceId: WorkspaceId, Actor: "demo-seed");
        var (workspace, _) = await aggregates.LoadAsync(Workspace.StreamId(WorkspaceId), WorkspaceState.Initial, Workspace.Evolve, stoppingToken);
        if (!workspace.Exists)
        {
            await Execute(new CreateWorkspace(WorkspaceId, "Demo", null), metadata, stoppingToken);
            workspace = await Execute(new GrantCredits(StartingCredits, "demo credits", "demo-seed"), metadata, stoppingToken);
        }

        var keyId = Ids.New("key");
        var key = ApiKeySecret.NewKey();
        await aggregates.ExecuteAsync(ApiKey.StreamId(keyId), "api_key", ApiKeyState.Initial, ApiKey.Evolve,
            (state, now) => ApiKey.Decide(state, workspace, new IssueApiKey(keyId, $"demo {now:yyyy-MM-dd HH:mm}", ApiKeySecret.HashHex(key), ApiKeySecret.DisplayPrefix(key), "pro", null, null), now),
            metadata, stoppingToken);

        var address = server.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:8080";
        Console.WriteLine($"""

            Infery is ready at {address}
              Demo API key (workspace {WorkspaceId}, 100 credits to start): {key}
              Admin token: {configuration["INFERY_ADMIN_TOKEN"] ?? "(INFERY_ADMIN_TOKEN not set: admin API disabled)"}
              Try: curl {address}/v1/chat/completions -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \
                     -d '{"{"}"model":"sim-chat","messages":[{"{"}"role":"user","content":"Hello!"{"}"}]{"}"}'

            """);
    }
}
