using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Features.Workspaces;

public sealed class WorkspacesAdminApiTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    [Fact]
    public async Task An_operator_creates_a_workspace_grants_credits_adds_a_member_and_reads_it_back()
    {
        var admin = gateway.AdminClient();

        var created = await admin.PostAsJsonAsync("/admin/v1/workspaces", new { name = "Acme", storage_limit_bytes = 10_000 });
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        var id = (await Json(created))["id"]!.GetValue<string>();

        var granted = await admin.PostAsJsonAsync($"/admin/v1/workspaces/{id}/credits", new { amount = "12.5", reason = "first top-up" });
        granted.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await Json(granted))["balance"]!.GetValue<string>().ShouldBe("12.500000");

        var member = await admin.PostAsJsonAsync($"/admin/v1/workspaces/{id}/members", new { email = "ada@acme.test", name = "Ada" });
        member.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await Json(member))["id"]!.GetValue<string>().ShouldStartWith("mem_");

        var read = await Json(await admin.GetAsync($"/admin/v1/workspaces/{id}"));
        read["name"]!.GetValue<string>().ShouldBe("Acme");
        read["balance"]!.GetValue<string>().ShouldBe("12.500000");
        read["reserved"]!.GetValue<string>().ShouldBe("0.000000");
        read["storage_used_bytes"]!.GetValue<long>().ShouldBe(0);
        read["storage_limit_bytes"]!.GetValue<long>().ShouldBe(10_000);
    }

    [Fact]
    public async Task Refunds_add_back_to_the_balance_and_are_recorded_with_reason_and_who()
    {
        var (id, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var admin = gateway.AdminClient();
        admin.DefaultRequestHeaders.Add("x-admin-actor", "support@infery.test");

        var refunded = await admin.PostAsJsonAsync($"/admin/v1/workspaces/{id}/refunds", new { amount = 0.25, reason = "bad answer", request_id = "req_x" });

        refunded.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await Json(refunded))["balance"]!.GetValue<string>().ShouldBe("1.250000");
        var ledger = new Ledger(gateway.ConnectionString);
        (await ledger.ScalarAsync(
            "select count(*) from events where type = 'credits.refunded.v1' and data->>'by' = 'support@infery.test' and data->>'reason' = 'bad answer' and workspace_id = $1", id))
            .ShouldBe(1);
    }

    [Fact]
    public async Task Forty_grants_at_once_to_one_workspace_each_get_an_answer_and_the_balance_adds_up()
    {
        var (id, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 0);
        var admin = gateway.AdminClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ =>
            admin.PostAsJsonAsync($"/admin/v1/workspaces/{id}/credits", new { amount = 1, reason = "parallel top-up" })));

        responses.ShouldAllBe(r => r.StatusCode == HttpStatusCode.Created || r.StatusCode == HttpStatusCode.Conflict);
        foreach (var refused in responses.Where(r => r.StatusCode == HttpStatusCode.Conflict))
            (await Json(refused))["error"]!["code"]!.GetValue<string>().ShouldBe("concurrent_modification");
        var granted = responses.Count(r => r.StatusCode == HttpStatusCode.Created);
        (await new Ledger(gateway.ConnectionString).BalanceAsync(id)).ShouldBe(granted * 1_000_000L);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-token")]
    [InlineData("Basic YWRtaW46YWRtaW4=")]
    public async Task The_admin_api_needs_the_admin_token(string? authorization)
    {
        var client = gateway.CreateClient();
        if (authorization is not null)
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);

        var response = await client.PostAsJsonAsync("/admin/v1/workspaces", new { name = "x" });

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await Json(response))["error"]!["code"]!.GetValue<string>().ShouldBe("invalid_admin_token");
    }

    public static TheoryData<string, string, string, HttpStatusCode, string?> BadInputs() => new()
    {
        { "POST", "/admin/v1/workspaces", "{}", HttpStatusCode.BadRequest, "name" },
        { "POST", "/admin/v1/workspaces", """{"name":42}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/admin/v1/workspaces", """{"name":""}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/admin/v1/workspaces", """{"name":"a","storage_limit_bytes":-5}""", HttpStatusCode.BadRequest, "storage_limit_bytes" },
        { "POST", "/admin/v1/workspaces", """{"name":"a","storage_limit_bytes":"lots"}""", HttpStatusCode.BadRequest, "storage_limit_bytes" },
        { "POST", "/admin/v1/workspaces", """{"name":"a",""", HttpStatusCode.BadRequest, null },
        { "POST", "/admin/v1/workspaces", "[1,2,3]", HttpStatusCode.BadRequest, null },
        { "POST", "/admin/v1/workspaces", """{"name":"a","name":"b"}""", HttpStatusCode.BadRequest, null },
        { "POST", "/admin/v1/workspaces/{ws}/keys", """{"name":"k","rpm":1,"rpm":2}""", HttpStatusCode.BadRequest, null },
        { "PUT", "/admin/v1/workspaces/{ws}/fallbacks/sim-chat", """{"fallbacks":[],"fallbacks":[]}""", HttpStatusCode.BadRequest, null },
        { "POST", "/admin/v1/workspaces", "", HttpStatusCode.BadRequest, null },
        { "POST", "/admin/v1/workspaces", $$"""{"name":"{{new string('x', 300)}}"}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/admin/v1/workspaces", $$"""{"name":"big","pad":"{{new string('x', 70_000)}}"}""", HttpStatusCode.RequestEntityTooLarge, null },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":-5,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":0,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":"ten","reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":true,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":0.0000001,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":1e30,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":100000000000000000000000,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/refunds", """{"amount":-100000000000000000000000,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":5}""", HttpStatusCode.BadRequest, "reason" },
        { "POST", "/admin/v1/workspaces/{ws}/credits", """{"amount":5,"reason":["x"]}""", HttpStatusCode.BadRequest, "reason" },
        { "POST", "/admin/v1/workspaces/ws_doesnotexist00000000000/credits", """{"amount":5,"reason":"x"}""", HttpStatusCode.NotFound, null },
        { "POST", "/admin/v1/workspaces/'; drop table events;--/credits", """{"amount":5,"reason":"x"}""", HttpStatusCode.NotFound, "id" },
        { "POST", "/admin/v1/workspaces/{ws}/refunds", """{"amount":-1,"reason":"x"}""", HttpStatusCode.BadRequest, "amount" },
        { "POST", "/admin/v1/workspaces/{ws}/members", """{"name":"Ada"}""", HttpStatusCode.BadRequest, "email" },
        { "POST", "/admin/v1/workspaces/{ws}/members", """{"email":"nope","name":"Ada"}""", HttpStatusCode.BadRequest, "email" },
        { "POST", "/admin/v1/workspaces/{ws}/members", """{"email":"a@b.test","name":null}""", HttpStatusCode.BadRequest, "name" },
        { "POST", "/admin/v1/workspaces/{ws}/keys", "{}", HttpStatusCode.BadRequest, "name" },
        { "POST", "/admin/v1/workspaces/{ws}/keys", """{"name":"k","preset":"gold"}""", HttpStatusCode.BadRequest, "preset" },
        { "POST", "/admin/v1/workspaces/{ws}/keys", """{"name":"k","rpm":0}""", HttpStatusCode.BadRequest, "rpm" },
        { "POST", "/admin/v1/workspaces/{ws}/keys", """{"name":"k","rpm":1.5}""", HttpStatusCode.BadRequest, "rpm" },
        { "POST", "/admin/v1/workspaces/{ws}/keys", """{"name":"k","rpm":"fast"}""", HttpStatusCode.BadRequest, "rpm" },
        { "POST", "/admin/v1/workspaces/{ws}/keys", """{"name":"k","member_id":"mem_nobody"}""", HttpStatusCode.NotFound, "member_id" },
        { "POST", "/admin/v1/workspaces/ws_0000000000000000000000ff/keys", """{"name":"k"}""", HttpStatusCode.NotFound, null },
        { "GET", "/admin/v1/workspaces/ws_0000000000000000000000ff", "", HttpStatusCode.NotFound, "id" },
        { "GET", "/admin/v1/workspaces/%E2%82%AC", "", HttpStatusCode.NotFound, "id" },
        { "DELETE", "/admin/v1/keys/key_0000000000000000000000ff", "", HttpStatusCode.NotFound, null },
        { "DELETE", "/admin/v1/keys/not-a-key", "", HttpStatusCode.NotFound, "key_id" },
        { "PATCH", "/admin/v1/workspaces", "{}", HttpStatusCode.MethodNotAllowed, null },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_gets_a_4xx_envelope_naming_the_field_never_a_500(
        string method, string path, string body, HttpStatusCode expected, string? param)
    {
        var (workspaceId, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 0);
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{ws}", workspaceId));
        if (method != "GET" && method != "DELETE")
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");

        var response = await gateway.AdminClient().SendAsync(request);

        response.StatusCode.ShouldBe(expected);
        var error = (await Json(response))["error"]!.AsObject();
        error.Select(p => p.Key).Order().ShouldBe(["code", "message", "param", "type"]);
        error["message"]!.GetValue<string>().ShouldNotBeNullOrWhiteSpace();
        if (param is not null)
            error["param"]!.GetValue<string>().ShouldBe(param);
    }

    private static async Task<JsonObject> Json(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
}
