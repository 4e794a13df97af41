using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// The database goes away while the gateway serves keys it has cached on credits it has leased. A completion fails
/// closed: withheld and not charged. A stream, delivered before its charge could be written, owes the charge, and
/// the charge is recorded, once, when the database is back.
/// </summary>
public sealed class DatabaseOutageTests(ProxiedGateway gateway) : IClassFixture<ProxiedGateway>
{
    private Task<HttpResponseMessage> ChatAsync(string key, string requestId, bool stream) =>
        gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream, requestId: requestId);

    [Fact]
    public async Task During_an_outage_completions_are_withheld_and_streams_owe_their_charges_which_are_recorded_once_it_ends()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        (await ChatAsync(key, "req_outage_warm_up", stream: true)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var balanceBefore = await ledger.BalanceAsync(workspace);

        gateway.Proxy.Down = true;
        HttpResponseMessage withheld, streamed;
        try
        {
            withheld = await ChatAsync(key, "req_outage_completion", stream: false);
            streamed = await ChatAsync(key, "req_outage_stream", stream: true);
        }
        finally
        {
            gateway.Proxy.Down = false;
        }

        withheld.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var withheldBody = await withheld.Content.ReadAsStringAsync();
        JsonNode.Parse(withheldBody)!["error"]!["code"]!.GetValue<string>().ShouldBe("billing_unavailable");
        withheldBody.ShouldNotContain("choices");
        streamed.StatusCode.ShouldBe(HttpStatusCode.OK);
        var chunks = GatewayClients.SseData(await streamed.Content.ReadAsStringAsync());
        chunks.ShouldContain(e => e["choices"] != null && e["choices"]!.AsArray().Count > 0);
        var promised = chunks.Single(e => e["credits_used"] != null);
        promised["credits_pending"]!.GetValue<bool>().ShouldBeTrue();

        await Eventually.TrueAsync(async () => await ledger.CountAsync("credits.charged.v1", "req_outage_stream") == 1,
            "the owed charge should be recorded once the database is back");
        var charges = await ledger.ChargesAsync(workspace);
        var streamCharge = charges.Where(c => c.RequestId == "req_outage_stream").ShouldHaveSingleItem();
        Infery.Domain.Credits.MicroCredits.Format(streamCharge.Amount).ShouldBe(promised["credits_used"]!.GetValue<string>());
        charges.ShouldNotContain(c => c.RequestId == "req_outage_completion");
        (await ledger.BalanceAsync(workspace)).ShouldBe(balanceBefore - streamCharge.Amount);
        await Eventually.TrueAsync(
            async () => await gateway.ReservedAsync(key) == "0.000000",
            "the owed charge's reservation should be released");
    }
}
