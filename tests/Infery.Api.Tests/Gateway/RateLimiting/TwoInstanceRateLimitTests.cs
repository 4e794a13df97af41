using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Infery.Api.Gateway.RateLimiting;
using Infery.Api.Tests.Fixtures;

namespace Infery.Api.Tests.Gateway.RateLimiting;

/// <summary>
/// Two gateway instances on one database count a key's requests against one limit: behind any number of instances a
/// key gets its rpm, not that many times it.
/// </summary>
public sealed class TwoInstanceRateLimitTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private async Task<string> KeyWithRpmAsync(int rpm)
    {
        var (workspace, _) = await gateway.NewWorkspaceWithKeyAsync(credits: 0);
        var issued = await gateway.AdminClient().PostAsJsonAsync($"/admin/v1/workspaces/{workspace}/keys", new { name = $"rpm {rpm}", rpm });
        issued.StatusCode.ShouldBe(HttpStatusCode.Created);
        return JsonNode.Parse(await issued.Content.ReadAsStringAsync())!["key"]!.GetValue<string>();
    }

    /// <summary>That many requests at once, every other one to each instance.</summary>
    private static Task<HttpResponseMessage[]> AlternatingAsync(HttpClient here, HttpClient there, int count) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(i => (i % 2 == 0 ? here : there).GetAsync("/v1/credits")));

    /// <summary>The window slides by the minute: a burst across a minute's end would be weighed over two.</summary>
    private static async Task AwayFromAMinutesEndAsync()
    {
        if (DateTime.UtcNow.Second >= 50)
            await Task.Delay(TimeSpan.FromSeconds(61 - DateTime.UtcNow.Second));
    }

    [Fact]
    public async Task A_hundred_requests_at_once_across_two_instances_on_a_30_rpm_key_let_exactly_30_through()
    {
        await using var other = await GatewayFactory.SecondInstanceOf(gateway);
        var key = await KeyWithRpmAsync(30);
        await AwayFromAMinutesEndAsync();

        var responses = await AlternatingAsync(gateway.KeyClient(key), other.KeyClient(key), 100);

        responses.Count(r => r.StatusCode == HttpStatusCode.OK).ShouldBe(30);
        responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests).ShouldBe(70);
    }

    [Fact]
    public async Task Requests_past_a_keys_rpm_across_two_instances_are_refused_short_of_it_by_at_most_a_slice_each()
    {
        await using var other = await GatewayFactory.SecondInstanceOf(gateway);
        const int rpm = 400;
        var key = await KeyWithRpmAsync(rpm);
        await AwayFromAMinutesEndAsync();

        var responses = await AlternatingAsync(gateway.KeyClient(key), other.KeyClient(key), 500);

        // Each instance takes a twentieth of the minute at a time; what one holds unspent at the end is not served.
        var served = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        served.ShouldBeInRange(rpm - 2 * (rpm / KeyRateLimiter.SlicesPerMinute), rpm);
        responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests).ShouldBe(500 - served);
        var refused = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        refused.Headers.RetryAfter.ShouldNotBeNull();
        refused.Headers.GetValues("x-ratelimit-remaining-requests").Single().ShouldBe("0");
    }
}
