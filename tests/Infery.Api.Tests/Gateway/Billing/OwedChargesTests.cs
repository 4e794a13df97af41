using System.Text.Json.Nodes;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>A gateway of its own whose warnings and worse are kept for the test to read.</summary>
public class GatewayWithCapturedLogs : GatewayFactory
{
    public CapturedLogs Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(Logs));
    }
}

public sealed class StoppingGatewayWithCapturedLogs : GatewayWithCapturedLogs;

/// <summary>Owed charges the database will not take are not dropped in silence.</summary>
public sealed class OwedChargesTests(GatewayWithCapturedLogs gateway) : IClassFixture<GatewayWithCapturedLogs>
{
    [Fact]
    public async Task A_charge_the_database_keeps_refusing_is_given_up_after_three_refusals_logged_in_full_and_its_reservation_released()
    {
        const string requestId = "req_owed_refused_for_good";
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        await RefusedEvents.RefuseAsync(gateway.ConnectionString, requestId);
        try
        {
            var response = await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream: true, requestId: requestId);
            var promised = GatewayClients.SseData(await response.Content.ReadAsStringAsync()).Single(e => e["credits_used"] != null);
            promised["credits_pending"]!.GetValue<bool>().ShouldBeTrue();

            await Eventually.TrueAsync(() => Task.FromResult(gateway.Logs.At(LogLevel.Critical).Any(line => line.Contains(requestId))),
                "a charge given up should be logged");
            var line = gateway.Logs.At(LogLevel.Critical).Single(line => line.Contains(requestId));
            line.ShouldContain("refused by the database 3 times");
            line.ShouldContain(workspace);
            line.ShouldContain("\"amount\":");
            await Eventually.TrueAsync(
                async () => JsonNode.Parse(await gateway.KeyClient(key).GetStringAsync("/v1/credits"))!["reserved"]!.GetValue<string>() == "0.000000",
                "the reservation of a charge given up should be released");
            (await new Ledger(gateway.ConnectionString).CountAsync("credits.charged.v1", requestId)).ShouldBe(0);
        }
        finally
        {
            await RefusedEvents.AcceptAsync(gateway.ConnectionString, requestId);
        }
    }
}

public sealed class OwedChargesAtShutdownTests(StoppingGatewayWithCapturedLogs gateway) : IClassFixture<StoppingGatewayWithCapturedLogs>
{
    [Fact]
    public async Task A_charge_still_owed_when_the_gateway_stops_is_logged_in_full()
    {
        const string requestId = "req_owed_at_shutdown";
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        await RefusedEvents.RefuseAsync(gateway.ConnectionString, requestId);
        try
        {
            await (await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream: true, requestId: requestId)).Content.ReadAsStringAsync();

            gateway.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

            await Eventually.TrueAsync(() => Task.FromResult(gateway.Logs.At(LogLevel.Critical).Any(line => line.Contains(requestId))),
                "a charge still owed at shutdown should be logged");
            var line = gateway.Logs.At(LogLevel.Critical).Single(line => line.Contains(requestId));
            line.ShouldContain("still owed when the gateway stopped");
            line.ShouldContain(workspace);
        }
        finally
        {
            await RefusedEvents.AcceptAsync(gateway.ConnectionString, requestId);
        }
    }
}
