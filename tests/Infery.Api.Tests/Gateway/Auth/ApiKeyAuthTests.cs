using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Infery.Api.Tests.Fixtures;
using Npgsql;

namespace Infery.Api.Tests.Gateway.Auth;

public sealed class ApiKeyAuthTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Basic aW5mXzp4")]
    [InlineData("Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789")]
    [InlineData("Bearer inf_short")]
    [InlineData("Bearer inf_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")]
    [InlineData("Bearer inf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task A_missing_malformed_or_unknown_key_gets_401_invalid_api_key(string? authorization)
    {
        var client = gateway.CreateClient();
        if (authorization is not null)
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);

        var response = await client.PostAsJsonAsync("/v1/chat/completions",
            new { model = "sim-chat", messages = new[] { new { role = "user", content = "hi" } } });

        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("invalid_api_key");
        error["type"]!.GetValue<string>().ShouldBe("invalid_request_error");
    }

    [Fact]
    public async Task Issued_keys_start_with_inf_and_only_their_hash_is_stored()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 0);

        key.ShouldStartWith("inf_");
        (key.Length - 4).ShouldBeGreaterThanOrEqualTo(32);
        var ledger = new Ledger(gateway.ConnectionString);
        (await ledger.ScalarAsync("select count(*) from events where data::text like '%' || $1 || '%'", key[4..])).ShouldBe(0);
        (await ledger.ScalarAsync("select count(*) from api_keys where hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')", key)).ShouldBe(1);
    }

    [Fact]
    public async Task A_revoked_key_gets_401_on_every_instance_within_a_second()
    {
        await using var other = await GatewayFactory.SecondInstanceOf(gateway);
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        var keyId = await KeyIdOf(key);
        // Both instances have the key cached from a first successful call.
        (await Credits(gateway, key)).ShouldBe(HttpStatusCode.OK);
        (await Credits(other, key)).ShouldBe(HttpStatusCode.OK);

        (await gateway.AdminClient().DeleteAsync($"/admin/v1/keys/{keyId}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var revokedAt = Stopwatch.StartNew();

        (await PollUntilUnauthorized(gateway, key, revokedAt)).ShouldBeTrue();
        (await PollUntilUnauthorized(other, key, revokedAt)).ShouldBeTrue("the other instance dropped the key from its cache through NOTIFY");
    }

    [Fact]
    public async Task Revoking_twice_is_fine_and_the_key_stays_revoked()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 0);
        var keyId = await KeyIdOf(key);

        (await gateway.AdminClient().DeleteAsync($"/admin/v1/keys/{keyId}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await gateway.AdminClient().DeleteAsync($"/admin/v1/keys/{keyId}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await Credits(gateway, key)).ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_key_of_workspace_A_sees_only_workspace_A()
    {
        var (workspaceA, keyA) = await gateway.NewWorkspaceWithKeyAsync(credits: 3);
        var (workspaceB, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 7);

        var creditsA = JsonNode.Parse(await gateway.KeyClient(keyA).GetStringAsync("/v1/credits"))!;
        var chat = await gateway.KeyClient(keyA).PostAsJsonAsync("/v1/chat/completions",
            new { model = "sim-chat", messages = new[] { new { role = "user", content = "hi" } } });

        creditsA["workspace_id"]!.GetValue<string>().ShouldBe(workspaceA);
        creditsA["balance"]!.GetValue<string>().ShouldBe("3.000000");
        chat.StatusCode.ShouldBe(HttpStatusCode.OK);
        var ledger = new Ledger(gateway.ConnectionString);
        (await ledger.ChargesAsync(workspaceB)).ShouldBeEmpty();
        (await ledger.BalanceAsync(workspaceB)).ShouldBe(7_000_000);
        (await ledger.ChargesAsync(workspaceA)).Count.ShouldBe(1);
    }

    /// <summary>A key of the free preset, 30 requests a minute, in a workspace of its own.</summary>
    private async Task<string> FreeKeyAsync()
    {
        var (id, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 0);
        var issued = await gateway.AdminClient().PostAsJsonAsync($"/admin/v1/workspaces/{id}/keys", new { name = "free", preset = "free" });
        return JsonNode.Parse(await issued.Content.ReadAsStringAsync())!["key"]!.GetValue<string>();
    }

    [Fact]
    public async Task A_free_key_gets_429_with_retry_after_past_30_requests_a_minute()
    {
        var client = gateway.KeyClient(await FreeKeyAsync());

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 31; i++)
        {
            last = await client.GetAsync("/v1/credits");
            statuses.Add(last.StatusCode);
        }

        statuses.Take(30).ShouldAllBe(s => s == HttpStatusCode.OK);
        statuses[30].ShouldBe(HttpStatusCode.TooManyRequests);
        last!.Headers.RetryAfter.ShouldNotBeNull();
        JsonNode.Parse(await last.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>().ShouldBe("rate_limit_exceeded");
    }

    [Fact]
    public async Task A_hundred_requests_at_once_on_a_30_rpm_key_let_exactly_30_through()
    {
        var client = gateway.KeyClient(await FreeKeyAsync());
        (await client.GetAsync("/v1/models")).StatusCode.ShouldBe(HttpStatusCode.OK);
        // The window slides by the minute: a burst across a minute's end would be weighed over two.
        if (DateTime.UtcNow.Second >= 55)
            await Task.Delay(TimeSpan.FromSeconds(61 - DateTime.UtcNow.Second));

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => client.GetAsync("/v1/credits")));

        responses.Count(r => r.StatusCode == HttpStatusCode.OK).ShouldBe(29);
        responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests).ShouldBe(71);
    }

    [Fact]
    public async Task Requests_bringing_the_same_uncached_key_at_once_read_it_from_the_database_once()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(credits: 1);
        await using var blocker = new NpgsqlConnection(gateway.ConnectionString);
        await blocker.OpenAsync();
        await using var tx = await blocker.BeginTransactionAsync();
        // Every read of the key waits on this lock, so each read the gateway starts stays visible until the commit.
        await new NpgsqlCommand("lock table api_keys in access exclusive mode", blocker, tx).ExecuteNonQueryAsync();

        var requests = Enumerable.Range(0, 20).Select(_ => Credits(gateway, key)).ToArray();
        await WaitForAKeyReadAsync();
        await Task.Delay(300);
        var reads = await KeyReadsWaitingAsync();
        await tx.CommitAsync();

        reads.ShouldBe(1);
        (await Task.WhenAll(requests)).ShouldAllBe(status => status == HttpStatusCode.OK);
    }

    private async Task WaitForAKeyReadAsync()
    {
        var since = Stopwatch.StartNew();
        while (await KeyReadsWaitingAsync() == 0)
        {
            since.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10), "no read of the key reached the database");
            await Task.Delay(10);
        }
    }

    private Task<long> KeyReadsWaitingAsync() => new Ledger(gateway.ConnectionString).ScalarAsync("""
        select count(*) from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query like '%from api_keys where hash%'
        """);

    private static async Task<HttpStatusCode> Credits(GatewayFactory instance, string key) =>
        (await instance.KeyClient(key).GetAsync("/v1/credits")).StatusCode;

    /// <summary>True once the instance refuses the key, asking until one second after the revocation.</summary>
    private static async Task<bool> PollUntilUnauthorized(GatewayFactory instance, string key, Stopwatch sinceRevocation)
    {
        while (sinceRevocation.Elapsed < TimeSpan.FromSeconds(1))
        {
            if (await Credits(instance, key) == HttpStatusCode.Unauthorized)
                return true;
            await Task.Delay(10);
        }
        return false;
    }

    private Task<string> KeyIdOf(string key) => new Ledger(gateway.ConnectionString).KeyIdAsync(key);
}
