using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;
using Npgsql;

namespace Infery.Api.Tests.Gateway.Billing;

/// <summary>
/// When the charge cannot be written, a completion is withheld and nothing is charged or left reserved; a stream,
/// already delivered, ends with an error chunk instead of its credits.
/// </summary>
public sealed class ChargeNotRecordedTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_charge_the_database_refuses_leaves_the_balance_and_the_reservation_as_they_were(bool stream)
    {
        var requestId = $"req_charge_refused_{stream}".ToLowerInvariant();
        var (workspace, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var ledger = new Ledger(gateway.ConnectionString);
        var balanceBefore = await ledger.BalanceAsync(workspace);
        await RefuseEventsOfAsync(requestId);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = "sim-chat", stream, messages = new[] { new { role = "user", content = "Hello" } } }),
        };
        request.Headers.Add("x-request-id", requestId);

        var response = await gateway.KeyClient(key).SendAsync(request);

        var body = await response.Content.ReadAsStringAsync();
        if (stream)
        {
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            var events = GatewayClients.SseData(body);
            events.ShouldContain(e => e["error"] != null && e["error"]!["code"]!.GetValue<string>() == "billing_unavailable");
            events.ShouldNotContain(e => e["credits_used"] != null);
        }
        else
        {
            response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
            var error = JsonNode.Parse(body)!["error"]!;
            error["code"]!.GetValue<string>().ShouldBe("billing_unavailable");
            body.ShouldNotContain("choices");
            response.Headers.Contains("x-credits-used").ShouldBeFalse();
        }
        (await ledger.CountAsync("credits.charged.v1", requestId)).ShouldBe(0);
        (await ledger.BalanceAsync(workspace)).ShouldBe(balanceBefore);
        JsonNode.Parse(await gateway.KeyClient(key).GetStringAsync("/v1/credits"))!["reserved"]!.GetValue<string>().ShouldBe("0.000000");

        // The same gateway goes on charging other requests.
        var next = await gateway.KeyClient(key).ChatAsync("sim-chat", "Hello again");
        next.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await ledger.CountAsync("credits.charged.v1", next.Header("x-request-id"))).ShouldBe(1);
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
}
