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
    public async Task A_charge_the_database_keeps_refusing_is_given_up_alone_logged_in_full_while_those_owed_with_it_are_recorded()
    {
        const string refused = "req_owed_refused_for_good";
        string[] takenLater = ["req_owed_taken_later_1", "req_owed_taken_later_2", "req_owed_taken_later_3"];
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        foreach (var requestId in takenLater.Append(refused))
            await RefusedEvents.RefuseAsync(gateway.ConnectionString, requestId);
        try
        {
            foreach (var requestId in takenLater.Append(refused))
            {
                var response = await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream: true, requestId: requestId);
                var promised = GatewayClients.SseData(await response.Content.ReadAsStringAsync()).Single(e => e["credits_used"] != null);
                promised["credits_pending"]!.GetValue<bool>().ShouldBeTrue();
            }
            foreach (var requestId in takenLater)
                await RefusedEvents.AcceptAsync(gateway.ConnectionString, requestId);

            await Eventually.TrueAsync(() => Task.FromResult(gateway.Logs.At(LogLevel.Critical).Any(line => line.Contains(refused))),
                "a charge given up should be logged");
            var line = gateway.Logs.At(LogLevel.Critical).Single(line => line.Contains(refused));
            line.ShouldContain("refused by the database 3 times");
            line.ShouldContain(workspace);
            line.ShouldContain("credits.charged.v1 {");
            var ledger = new Ledger(gateway.ConnectionString);
            foreach (var requestId in takenLater)
                (await ledger.CountAsync("credits.charged.v1", requestId)).ShouldBe(1);
            (await ledger.CountAsync("credits.charged.v1", refused)).ShouldBe(0);
            gateway.Logs.At(LogLevel.Critical).ShouldNotContain(l => takenLater.Any(l.Contains));
            await Eventually.TrueAsync(
                async () => await gateway.ReservedAsync(key) == "0.000000",
                "every owed reservation should be released");
        }
        finally
        {
            await RefusedEvents.AcceptAsync(gateway.ConnectionString, refused);
        }
    }
}

/// <summary>A database that turns read-only refuses every charge alike: they wait for it, none is given up.</summary>
public sealed class OwedChargesOnAReadOnlyDatabaseTests(GatewayWithCapturedLogs gateway) : IClassFixture<GatewayWithCapturedLogs>
{
    [Fact]
    public async Task A_charge_refused_as_read_only_is_owed_through_every_pass_and_recorded_once_the_database_takes_writes()
    {
        const string requestId = "req_owed_read_only";
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        await RefusedEvents.RefuseAsync(gateway.ConnectionString, requestId, sqlState: "25006");
        try
        {
            var response = await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream: true, requestId: requestId);
            GatewayClients.SseData(await response.Content.ReadAsStringAsync()).Single(e => e["credits_used"] != null)["credits_pending"]!
                .GetValue<bool>().ShouldBeTrue();

            // Three passes: a charge refused by the database on its own would be given up at the third.
            await Eventually.TrueAsync(
                () => Task.FromResult(gateway.Logs.At(LogLevel.Warning).Count(line => line.Contains($"owed charge of {requestId} not recorded yet")) >= 3),
                "the owed charge should be tried again and again while the database is read-only");
            gateway.Logs.At(LogLevel.Critical).ShouldNotContain(line => line.Contains(requestId));
        }
        finally
        {
            await RefusedEvents.AcceptAsync(gateway.ConnectionString, requestId);
        }

        await Eventually.TrueAsync(async () => await new Ledger(gateway.ConnectionString).CountAsync("credits.charged.v1", requestId) == 1,
            "the owed charge should be recorded once the database takes writes");
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

/// <summary>A charge owed when the gateway stops is kept on disk and recorded when it starts again.</summary>
public sealed class OwedChargesAcrossARestartTests
{
    [Fact]
    public async Task A_charge_still_owed_when_the_gateway_stops_is_recorded_once_when_it_starts_again()
    {
        const string requestId = "req_owed_across_a_restart";
        var first = new GatewayWithCapturedLogs { KeepsOwedChargesJournal = true };
        await first.InitializeAsync();
        var (workspace, key) = await first.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(first.ConnectionString);
        var balanceBefore = await ledger.BalanceAsync(workspace);
        await RefusedEvents.RefuseAsync(first.ConnectionString, requestId);
        string promised;
        try
        {
            var response = await first.KeyClient(key).ChatAsync("sim-chat", "Hello", stream: true, requestId: requestId);
            var final = GatewayClients.SseData(await response.Content.ReadAsStringAsync()).Single(e => e["credits_used"] != null);
            final["credits_pending"]!.GetValue<bool>().ShouldBeTrue();
            promised = final["credits_used"]!.GetValue<string>();
            await first.DisposeAsync();
            first.Logs.At(LogLevel.Critical).ShouldContain(line => line.Contains(requestId) && line.Contains(first.OwedChargesJournal));
        }
        finally
        {
            await RefusedEvents.AcceptAsync(first.ConnectionString, requestId);
        }

        await using var again = await GatewayFactory.RestartOf(first);

        await Eventually.TrueAsync(async () => await ledger.CountAsync("credits.charged.v1", requestId) == 1,
            "the charge kept on disk should be recorded when the gateway starts again");
        var charge = (await ledger.ChargesAsync(workspace)).ShouldHaveSingleItem();
        Infery.Domain.Credits.MicroCredits.Format(charge.Amount).ShouldBe(promised);
        (await ledger.BalanceAsync(workspace)).ShouldBe(balanceBefore - charge.Amount);
        await Eventually.TrueAsync(() => Task.FromResult(new FileInfo(first.OwedChargesJournal).Length == 0),
            "with nothing owed, the journal should be emptied");
    }
}
