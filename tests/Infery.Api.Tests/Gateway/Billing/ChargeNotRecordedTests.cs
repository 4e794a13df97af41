using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// When the charge cannot be written, a completion is withheld and nothing is charged or left reserved. A stream,
/// already delivered, ends with its credits marked pending, and its charge is owed: held with its reservation and
/// recorded once the database takes it.
/// </summary>
public sealed class ChargeNotRecordedTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private Task<HttpResponseMessage> ChatAsync(string key, string requestId, bool stream) =>
        gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream, requestId: requestId);

    [Fact]
    public async Task A_completion_whose_charge_the_database_refuses_is_withheld_and_leaves_the_balance_and_the_reservation_as_they_were()
    {
        const string requestId = "req_charge_refused_completion";
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        var balanceBefore = await ledger.BalanceAsync(workspace);
        await RefusedEvents.RefuseAsync(gateway.ConnectionString, requestId);

        var response = await ChatAsync(key, requestId, stream: false);

        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        JsonNode.Parse(body)!["error"]!["code"]!.GetValue<string>().ShouldBe("billing_unavailable");
        body.ShouldNotContain("choices");
        response.Headers.Contains("x-credits-used").ShouldBeFalse();
        (await ledger.CountAsync("credits.charged.v1", requestId)).ShouldBe(0);
        (await ledger.BalanceAsync(workspace)).ShouldBe(balanceBefore);
        (await gateway.ReservedAsync(key)).ShouldBe("0.000000");

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
        await RefusedEvents.RefuseAsync(gateway.ConnectionString, requestId);
        try
        {
            var response = await ChatAsync(key, requestId, stream: true);

            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            var body = await response.Content.ReadAsStringAsync();
            var events = GatewayClients.SseData(body);
            events.ShouldContain(e => e["choices"] != null && e["choices"]!.AsArray().Count > 0);
            events.ShouldNotContain(e => e["error"] != null);
            var credits = events.Single(e => e["credits_used"] != null);
            credits["credits_pending"]!.GetValue<bool>().ShouldBeTrue();
            body.TrimEnd().ShouldEndWith("data: [DONE]");
            (await ledger.CountAsync("credits.charged.v1", requestId)).ShouldBe(0);
            (await gateway.ReservedAsync(key)).ShouldNotBe("0.000000");
        }
        finally
        {
            await RefusedEvents.AcceptAsync(gateway.ConnectionString, requestId);
        }

        await Eventually.TrueAsync(async () => await ledger.CountAsync("credits.charged.v1", requestId) == 1,
            "the owed charge should be recorded once the database takes it");
        (await ledger.BalanceAsync(workspace)).ShouldBeLessThan(balanceBefore);
        await Eventually.TrueAsync(async () => await gateway.ReservedAsync(key) == "0.000000", "the owed charge's reservation should be released");
    }
}
