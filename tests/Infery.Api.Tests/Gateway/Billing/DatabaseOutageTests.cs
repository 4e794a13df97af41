using System.Net;
using System.Text.Json.Nodes;
using Infery.Api.Gateway.Billing;
using Infery.Api.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// The database goes away while the gateway serves keys it has cached on credits it has leased. The request that
/// finds it gone fails closed: a completion is withheld and not charged; a stream, delivered before its charge
/// could be written, owes the charge, recorded once the database is back. Every request after it is refused before
/// any provider is called, until the gateway finds the database again.
/// </summary>
public sealed class DatabaseOutageTests(ProxiedGateway gateway) : IClassFixture<ProxiedGateway>
{
    private Task<HttpResponseMessage> ChatAsync(string key, string requestId, bool stream) =>
        gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", stream, requestId: requestId);

    [Fact]
    public async Task During_an_outage_a_completion_is_withheld_then_requests_are_refused_before_any_provider_until_it_ends()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        var warmUp = await ServedAgainAsync(key, "req_gate_warm_up");
        var balanceBefore = await ledger.BalanceAsync(workspace);

        gateway.Proxy.Down = true;
        HttpResponseMessage withheld, refusedStream, refusedCompletion;
        try
        {
            withheld = await ChatAsync(key, "req_gate_withheld", stream: false);
            refusedStream = await ChatAsync(key, "req_gate_refused_stream", stream: true);
            refusedCompletion = await ChatAsync(key, "req_gate_refused_completion", stream: false);
        }
        finally
        {
            gateway.Proxy.Down = false;
        }

        await ShouldBeBillingUnavailableAsync(withheld);
        // Served, a stream would have answered 200 and owed its charge: refused, it is a plain error and nothing runs.
        await ShouldBeBillingUnavailableAsync(refusedStream);
        await ShouldBeBillingUnavailableAsync(refusedCompletion);
        var after = await ServedAgainAsync(key, "req_gate_after");
        var charges = await ledger.ChargesAsync(workspace);
        charges.Select(c => c.RequestId).ShouldBe([warmUp, after], ignoreOrder: true);
        (await ledger.BalanceAsync(workspace)).ShouldBe(balanceBefore - charges.Single(c => c.RequestId == after).Amount);
        (await gateway.ReservedAsync(key)).ShouldBe("0.000000");
    }

    [Fact]
    public async Task A_stream_delivered_as_the_outage_starts_owes_its_charge_which_is_recorded_once_it_ends()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        await ServedAgainAsync(key, "req_outage_warm_up");
        var balanceBefore = await ledger.BalanceAsync(workspace);

        gateway.Proxy.Down = true;
        HttpResponseMessage streamed, refused;
        try
        {
            streamed = await ChatAsync(key, "req_outage_stream", stream: true);
            refused = await ChatAsync(key, "req_outage_completion", stream: false);
        }
        finally
        {
            gateway.Proxy.Down = false;
        }

        streamed.StatusCode.ShouldBe(HttpStatusCode.OK);
        var chunks = GatewayClients.SseData(await streamed.Content.ReadAsStringAsync());
        chunks.ShouldContain(e => e["choices"] != null && e["choices"]!.AsArray().Count > 0);
        var promised = chunks.Single(e => e["credits_used"] != null);
        promised["credits_pending"]!.GetValue<bool>().ShouldBeTrue();
        await ShouldBeBillingUnavailableAsync(refused);

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

    private static async Task ShouldBeBillingUnavailableAsync(HttpResponseMessage response)
    {
        response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(1));
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        var body = await response.Content.ReadAsStringAsync();
        JsonNode.Parse(body)!["error"]!["code"]!.GetValue<string>().ShouldBe("billing_unavailable");
        body.ShouldNotContain("choices");
    }

    /// <summary>
    /// A stream answered and charged, and the request id it went under: after an outage the first tries may be refused
    /// (and charged nothing) until the gateway has found the database again.
    /// </summary>
    private async Task<string> ServedAgainAsync(string key, string requestId)
    {
        var tries = 0;
        var served = requestId;
        await Eventually.TrueAsync(async () =>
        {
            served = ++tries == 1 ? requestId : $"{requestId}_{tries}";
            using var response = await ChatAsync(key, served, stream: true);
            return response.StatusCode == HttpStatusCode.OK;
        }, "the gateway should take requests again once the database answers");
        return served;
    }
}

/// <summary>
/// A database that hangs rather than refuses: the charge that finds it gone closes the billing gate at its first
/// failure, while its second attempt still waits for a connection, so the requests after it are refused before any
/// provider is called instead of queueing behind that wait.
/// </summary>
public sealed class HangingDatabaseTests(ProxiedGateway gateway) : IClassFixture<ProxiedGateway>
{
    [Fact]
    public async Task The_gate_closes_at_the_first_failed_charge_not_after_its_second_attempt_gives_up()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        (await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", requestId: "req_hang_warm_up")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var billingGate = gateway.Services.GetRequiredService<BillingGate>();

        gateway.Proxy.Silent = true;
        Task<HttpResponseMessage> first;
        HttpResponseMessage next;
        try
        {
            first = gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", requestId: "req_hang_first");
            await Eventually.TrueAsync(() => Task.FromResult(!billingGate.IsOpen), "the first failed charge should close the gate");
            first.IsCompleted.ShouldBeFalse("the charge's second attempt still waits for a connection");

            next = await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello", requestId: "req_hang_next");

            first.IsCompleted.ShouldBeFalse("the next request was answered without waiting behind the first");
        }
        finally
        {
            gateway.Proxy.Silent = false;
        }

        next.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await next.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("billing_unavailable");
        // Once the database answers, the waiting attempt may still get through: then the first is served and charged once.
        var firstResponse = await first;
        (await new Ledger(gateway.ConnectionString).CountAsync("credits.charged.v1", "req_hang_first"))
            .ShouldBe(firstResponse.StatusCode == HttpStatusCode.OK ? 1 : 0);
        (await new Ledger(gateway.ConnectionString).CountAsync("credits.charged.v1", "req_hang_next")).ShouldBe(0);
    }
}
