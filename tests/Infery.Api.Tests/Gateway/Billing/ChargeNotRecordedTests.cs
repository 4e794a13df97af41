using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;
using Npgsql;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// When the charge cannot be written, a completion is withheld and nothing is charged or left reserved. A stream,
/// already delivered, ends with an error chunk instead of its credits, and its charge is owed: held with its
/// reservation and recorded once the database takes it.
/// </summary>
public sealed class ChargeNotRecordedTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private Task<HttpResponseMessage> ChatAsync(string key, string requestId, bool stream) =>
        gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream, requestId: requestId);

    private async Task<string> ReservedAsync(string key) =>
        JsonNode.Parse(await gateway.KeyClient(key).GetStringAsync("/v1/credits"))!["reserved"]!.GetValue<string>();

    [Fact]
    public async Task A_completion_whose_charge_the_database_refuses_is_withheld_and_leaves_the_balance_and_the_reservation_as_they_were()
    {
        const string requestId = "req_charge_refused_completion";
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        var balanceBefore = await ledger.BalanceAsync(workspace);
        await RefuseEventsOfAsync(requestId);

        var response = await ChatAsync(key, requestId, stream: false);

        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        JsonNode.Parse(body)!["error"]!["code"]!.GetValue<string>().ShouldBe("billing_unavailable");
        body.ShouldNotContain("choices");
        response.Headers.Contains("x-credits-used").ShouldBeFalse();
        (await ledger.CountAsync("credits.charged.v1", requestId)).ShouldBe(0);
        (await ledger.BalanceAsync(workspace)).ShouldBe(balanceBefore);
        (await ReservedAsync(key)).ShouldBe("0.000000");

        // The same gateway goes on charging other requests.
        var next = await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello again");
        next.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await ledger.CountAsync("credits.charged.v1", next.Header("x-request-id"))).ShouldBe(1);
    }

    [Fact]
    public async Task A_delivered_streams_charge_the_database_refuses_is_owed_with_its_reservation_and_recorded_once_it_is_taken()
    {
        const string requestId = "req_charge_refused_stream";
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        var balanceBefore = await ledger.BalanceAsync(workspace);
        await RefuseEventsOfAsync(requestId);

        var response = await ChatAsync(key, requestId, stream: true);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var events = GatewayClients.SseData(await response.Content.ReadAsStringAsync());
        events.ShouldContain(e => e["choices"] != null);
        events.ShouldContain(e => e["error"] != null && e["error"]!["code"]!.GetValue<string>() == "billing_delayed");
        events.ShouldNotContain(e => e["credits_used"] != null);
        (await ledger.CountAsync("credits.charged.v1", requestId)).ShouldBe(0);
        (await ReservedAsync(key)).ShouldNotBe("0.000000");

        await AcceptEventsOfAsync(requestId);

        var recordedBy = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await ledger.CountAsync("credits.charged.v1", requestId) == 0)
        {
            DateTime.UtcNow.ShouldBeLessThan(recordedBy, "the owed charge should be recorded once the database takes it");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
        (await ledger.BalanceAsync(workspace)).ShouldBeLessThan(balanceBefore);
        (await ReservedAsync(key)).ShouldBe("0.000000");
    }

    /// <summary>Makes the database reject, from now on, any event of this one request.</summary>
    private async Task RefuseEventsOfAsync(string requestId)
    {
        await using var conn = new NpgsqlConnection(gateway.ConnectionString);
        await conn.OpenAsync();
        var trigger = "refuse_" + requestId;
        await using var cmd = new NpgsqlCommand($"""
            create or replace function refuse_event() returns trigger language plpgsql as
              $$ begin raise exception 'event refused for a test'; end $$;
            create trigger {trigger} before insert on events for each row
              when (new.data->>'request_id' = '{requestId}') execute function refuse_event();
            """, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task AcceptEventsOfAsync(string requestId)
    {
        await using var conn = new NpgsqlConnection(gateway.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"drop trigger refuse_{requestId} on events", conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
