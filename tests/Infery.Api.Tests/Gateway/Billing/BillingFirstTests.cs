using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>No request is served without credits reserved; every credit charged is an event that reconciles exactly.</summary>
public sealed class BillingFirstTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private static object Chat(string text = "What is billing-first?", bool stream = false) => new
    {
        model = "sim-chat",
        max_tokens = 50,
        stream,
        messages = new[] { new { role = "user", content = text } },
    };

    [Fact]
    public async Task Three_hundred_concurrent_requests_on_ample_credit_are_all_served_none_refused_for_credits()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1_000);
        var client = gateway.KeyClient(key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => client.PostAsJsonAsync("/v1/chat/completions", Chat())));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.OK);
        (await new Ledger(gateway.ConnectionString).ChargesAsync(workspace)).Count.ShouldBe(300);
    }

    [Fact]
    public async Task Three_hundred_concurrent_requests_on_credit_for_about_a_hundred_reconcile_exactly()
    {
        var unitCost = await CostOfOneRequestAsync();
        var granted = 100 * unitCost;
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: granted / 1_000_000m);
        var client = gateway.KeyClient(key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => client.PostAsJsonAsync("/v1/chat/completions", Chat())));

        var served = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.PaymentRequired).ToList();
        (served.Count + refused.Count).ShouldBe(300, "every request was either served or refused for credits");
        // Requests reserve their worst case, so arriving all at once fewer than 100 fit; never more.
        served.Count.ShouldBeInRange(1, 100);
        foreach (var response in refused)
            JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>().ShouldBe("insufficient_credits");

        var ledger = new Ledger(gateway.ConnectionString);
        var charges = (await ledger.ChargesAsync(workspace)).ToDictionary(c => c.RequestId, c => c.Amount);
        var told = served.ToDictionary(RequestIdOf, CreditsUsedOf);
        charges.Count.ShouldBe(served.Count, "one charge per served request, none for refused ones");
        foreach (var (requestId, amount) in told)
            charges[requestId].ShouldBe(amount, $"x-credits-used of {requestId} equals its CreditsCharged event");
        told.Values.ShouldAllBe(amount => amount == unitCost);

        var totalCharged = await ledger.TotalChargedAsync(workspace);
        totalCharged.ShouldBe(served.Count * unitCost);
        totalCharged.ShouldBe(told.Values.Sum());
        var balance = await ledger.BalanceAsync(workspace);
        balance.ShouldBe(granted - totalCharged);
        balance.ShouldBeGreaterThanOrEqualTo(0);
        await AssertNothingReservedAsync(key);
    }

    [Fact]
    public async Task A_request_that_may_cost_more_than_the_balance_gets_402_before_any_provider_is_called()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 0.000001m);

        var response = await gateway.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", Chat());

        response.StatusCode.ShouldBe(HttpStatusCode.PaymentRequired);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("insufficient_credits");
        error["type"]!.GetValue<string>().ShouldBe("insufficient_credits");
        var ledger = new Ledger(gateway.ConnectionString);
        (await ledger.ScalarAsync("select count(*) from events where type = 'request.served.v1' and workspace_id = $1", workspace)).ShouldBe(0);
    }

    [Fact]
    public async Task The_streamed_credits_used_equals_the_ledger_charge_and_arrives_just_before_done()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);

        var response = await gateway.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", Chat("stream this please", stream: true));
        var events = (await response.Content.ReadAsStringAsync())
            .Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();

        events[^1].ShouldBe("[DONE]");
        var creditsChunk = JsonNode.Parse(events[^2])!;
        creditsChunk["choices"]!.AsArray().ShouldBeEmpty();
        var creditsUsed = ToMicro(creditsChunk["credits_used"]!.GetValue<string>());
        creditsUsed.ShouldBeGreaterThan(0);
        var charges = await new Ledger(gateway.ConnectionString).ChargesAsync(workspace);
        charges.ShouldBe([(RequestIdOf(response), creditsUsed)]);
    }

    [Fact]
    public async Task No_reservation_outlives_failures_disconnects_or_refusals()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var client = gateway.KeyClient(key);

        // Upstream failure: nothing charged.
        var failed = await client.PostAsJsonAsync("/v1/chat/completions", Chat("[[sim:fail]] hi"));
        // Mid-stream provider failure after some chunks: charged for what was generated.
        var cut = await client.PostAsJsonAsync("/v1/chat/completions", Chat("[[sim:fail-after:3]] tell me a long story about ledgers and events", stream: true));
        await cut.Content.ReadAsStringAsync();
        // The client walks away mid-stream (or just after the end, if the simulator was quicker: either way it is charged once).
        const string leaverId = "req_client_walks_away";
        using (var leaving = new CancellationTokenSource())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = JsonContent.Create(Chat("a long answer please " + new string('x', 400), stream: true)) };
            request.Headers.Add("x-request-id", leaverId);
            using var streaming = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leaving.Token);
            await using var body = await streaming.Content.ReadAsStreamAsync(leaving.Token);
            await body.ReadAtLeastAsync(new byte[64], 64, throwOnEndOfStream: false, leaving.Token);
            await leaving.CancelAsync();
        }
        // Invalid requests never reserve.
        await client.PostAsJsonAsync("/v1/chat/completions", new { model = "no-such-model", messages = new[] { new { role = "user", content = "hi" } } });

        failed.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        var ledger = new Ledger(gateway.ConnectionString);
        (await ledger.CountAsync("credits.charged.v1", RequestIdOf(failed))).ShouldBe(0);
        (await ledger.CountAsync("request.failed.v1", RequestIdOf(failed))).ShouldBe(1);
        (await ledger.CountAsync("credits.charged.v1", RequestIdOf(cut))).ShouldBe(1);
        await WaitForAsync(async () => await ledger.CountAsync("credits.charged.v1", leaverId) == 1);
        await AssertNothingReservedAsync(key);
        (await ledger.BalanceAsync(workspace)).ShouldBe(1_000_000 - (await ledger.ChargesAsync(workspace)).Sum(c => c.Amount));
    }

    [Fact]
    public async Task Two_requests_that_share_a_client_chosen_request_id_are_both_served_and_charged()
    {
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var client = gateway.KeyClient(key);
        client.DefaultRequestHeaders.Add("x-request-id", "my-retry-loop-id");

        var first = await client.PostAsJsonAsync("/v1/chat/completions", Chat());
        var second = await client.PostAsJsonAsync("/v1/chat/completions", Chat());

        first.StatusCode.ShouldBe(HttpStatusCode.OK);
        second.StatusCode.ShouldBe(HttpStatusCode.OK);
        RequestIdOf(second).ShouldBe("my-retry-loop-id");
        (await new Ledger(gateway.ConnectionString).ChargesAsync(workspace)).Count.ShouldBe(2);
    }

    private async Task<long> CostOfOneRequestAsync()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var probe = await gateway.KeyClient(key).PostAsJsonAsync("/v1/chat/completions", Chat());
        probe.StatusCode.ShouldBe(HttpStatusCode.OK);
        return CreditsUsedOf(probe);
    }

    private async Task AssertNothingReservedAsync(string key)
    {
        await WaitForAsync(async () => await gateway.ReservedAsync(key) == "0.000000");
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        // Settling after a client left happens just after the response ends; give it a moment, then insist.
        for (var i = 0; i < 500 && !await condition(); i++)
            await Task.Delay(20);
        (await condition()).ShouldBeTrue();
    }

    private static string RequestIdOf(HttpResponseMessage response) => response.Headers.GetValues("x-request-id").Single();

    private static long CreditsUsedOf(HttpResponseMessage response) => ToMicro(response.Headers.GetValues("x-credits-used").Single());

    private static long ToMicro(string credits) => (long)(decimal.Parse(credits, CultureInfo.InvariantCulture) * 1_000_000);
}
