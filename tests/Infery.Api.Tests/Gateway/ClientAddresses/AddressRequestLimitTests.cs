using System.Net;
using Infery.Api.Gateway.ClientAddresses;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Infery.Api.Tests.Gateway.ClientAddresses;

public sealed class AddressRequestLimitTests
{
    private static AddressRequestLimit Limit(ManualClock clock, int max = 3, bool countInternal = false) =>
        new(Options.Create(new AddressRequestLimitOptions { MaxRequests = max, WindowSeconds = 600, CountInternalAddresses = countInternal }), clock);

    private static HttpContext From(string? address) =>
        new DefaultHttpContext { Connection = { RemoteIpAddress = address is null ? null : IPAddress.Parse(address) } };

    [Fact]
    public void An_address_is_refused_with_retry_after_once_it_used_its_window_and_served_again_when_the_window_ends()
    {
        var clock = new ManualClock();
        var limit = Limit(clock);
        for (var i = 0; i < 3; i++)
            limit.Check(From("203.0.113.7")).ShouldBeNull();
        clock.Advance(TimeSpan.FromMinutes(4));

        var refused = From("203.0.113.7");
        var error = limit.Check(refused).ShouldNotBeNull();
        error.Status.ShouldBe(429);
        error.Code.ShouldBe("address_rate_limit_exceeded");
        error.Message.ShouldContain("at most 3 in 10 minutes");
        refused.Response.Headers.RetryAfter.ToString().ShouldBe("360");
        limit.Check(From("198.51.100.2")).ShouldBeNull();

        clock.Advance(TimeSpan.FromMinutes(6));
        limit.Check(From("203.0.113.7")).ShouldBeNull();
    }

    [Fact]
    public void Internal_addresses_and_requests_without_one_are_not_counted_unless_configured()
    {
        var clock = new ManualClock();
        var limit = Limit(clock, max: 1);
        var counting = Limit(clock, max: 1, countInternal: true);
        for (var i = 0; i < 5; i++)
        {
            limit.Check(From("10.0.0.4")).ShouldBeNull();
            limit.Check(From("::1")).ShouldBeNull();
            limit.Check(From(null)).ShouldBeNull();
            counting.Check(From(null)).ShouldBeNull();
        }
        counting.Check(From("10.0.0.4")).ShouldBeNull();
        counting.Check(From("10.0.0.4")).ShouldNotBeNull();
    }

    [Fact]
    public void Zero_turns_the_limit_off()
    {
        var limit = Limit(new ManualClock(), max: 0);
        limit.IsOn.ShouldBeFalse();
        for (var i = 0; i < 10; i++)
            limit.Check(From("203.0.113.7")).ShouldBeNull();
    }

    [Theory]
    [InlineData(-1, 600)]
    [InlineData(5_000, 0)]
    [InlineData(5_000, 86_401)]
    public void Settings_out_of_range_are_refused(int max, int windowSeconds) =>
        new AddressRequestLimitOptions { MaxRequests = max, WindowSeconds = windowSeconds }.IsValid.ShouldBeFalse();
}

/// <summary>Behind a proxy whose forwarded headers are trusted, so that requests come from their clients' addresses.</summary>
public sealed class GatewayBehindProxy() : ConfiguredGatewayFactory(new Dictionary<string, string>
{
    ["FORWARDEDHEADERS_ENABLED"] = "true",
    ["AddressLimit:MaxRequests"] = "3",
});

public sealed class AddressRequestLimitGatewayTests(GatewayBehindProxy gateway) : IClassFixture<GatewayBehindProxy>
{
    private static HttpRequestMessage ModelsFrom(string address, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("X-Forwarded-For", address);
        request.Headers.Authorization = new("Bearer", key);
        return request;
    }

    [Fact]
    public async Task A_client_address_past_its_limit_gets_a_429_envelope_with_retry_after_whatever_its_key_while_others_are_served()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        var (_, otherKey) = await gateway.NewWorkspaceWithKeyAsync(10);
        var client = gateway.CreateClient();
        for (var i = 0; i < 3; i++)
            (await client.SendAsync(ModelsFrom("203.0.113.50", i % 2 == 0 ? key : otherKey))).StatusCode.ShouldBe(HttpStatusCode.OK);

        var refused = await client.SendAsync(ModelsFrom("203.0.113.50", otherKey));

        refused.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        var error = (await refused.JsonAsync())["error"]!;
        error["code"]!.GetValue<string>().ShouldBe("address_rate_limit_exceeded");
        error["type"]!.GetValue<string>().ShouldBe("rate_limit_error");
        refused.Headers.RetryAfter.ShouldNotBeNull();
        refused.Headers.Contains("x-request-id").ShouldBeTrue();
        (await client.SendAsync(ModelsFrom("203.0.113.51", key))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Health_probes_and_addresses_of_the_gateways_own_network_are_not_counted()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        var client = gateway.CreateClient();
        for (var i = 0; i < 5; i++)
            (await client.SendAsync(ModelsFrom("10.0.0.9", key))).StatusCode.ShouldBe(HttpStatusCode.OK);

        for (var i = 0; i < 3; i++)
            (await client.SendAsync(ModelsFrom("203.0.113.60", key))).StatusCode.ShouldBe(HttpStatusCode.OK);
        var probe = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        probe.Headers.Add("X-Forwarded-For", "203.0.113.60");
        (await client.SendAsync(probe)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
