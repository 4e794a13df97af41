using System.Net;
using Infery.Api.Gateway.Auth;
using Infery.Api.Tests.Fakes;
using Infery.Api.Tests.Fixtures;
using Microsoft.Extensions.Options;

namespace Infery.Api.Tests.Gateway.Auth;

public sealed class FailedKeyLookupsTests
{
    private static readonly IPAddress Guesser = IPAddress.Parse("203.0.113.7");
    private static readonly IPAddress Other = IPAddress.Parse("198.51.100.2");

    private static FailedKeyLookups Lookups(ManualClock clock, int max = 3) =>
        new(Options.Create(new FailedKeyLookupsOptions { MaxUnknownKeysPerAddress = max, WindowSeconds = 10 }), clock);

    [Fact]
    public void An_address_is_blocked_once_it_reaches_the_limit_until_the_window_its_first_unknown_key_began_ends()
    {
        var clock = new ManualClock();
        var lookups = Lookups(clock);

        lookups.Record(Guesser);
        lookups.Record(Guesser);
        lookups.BlockedFor(Guesser).ShouldBe(TimeSpan.Zero);
        clock.Advance(TimeSpan.FromSeconds(4));
        lookups.Record(Guesser);

        // The window began with the first unknown key, four seconds ago.
        lookups.BlockedFor(Guesser).ShouldBe(TimeSpan.FromSeconds(6));
        lookups.BlockedFor(Other).ShouldBe(TimeSpan.Zero);
        clock.Advance(TimeSpan.FromSeconds(5));
        lookups.BlockedFor(Guesser).ShouldBe(TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(1));
        lookups.BlockedFor(Guesser).ShouldBe(TimeSpan.Zero);
    }

    [Fact]
    public void Requests_without_an_address_and_a_limit_of_zero_are_never_counted()
    {
        var clock = new ManualClock();
        var lookups = Lookups(clock);
        var off = Lookups(clock, max: 0);

        for (var i = 0; i < 10; i++)
        {
            lookups.Record(null);
            off.Record(Guesser);
        }

        lookups.BlockedFor(null).ShouldBe(TimeSpan.Zero);
        off.BlockedFor(Guesser).ShouldBe(TimeSpan.Zero);
    }
}

/// <summary>Over a real socket, where requests come from an address.</summary>
public sealed class KeyGuessingTests(LoopbackGateway gateway) : IClassFixture<LoopbackGateway>
{
    [Fact]
    public async Task An_address_guessing_keys_gets_429_with_retry_after_while_known_keys_keep_working()
    {
        var (_, key) = await gateway.NewWorkspaceWithKeyAsync(10);
        var known = gateway.KeyClient(key);
        (await known.GetAsync("/v1/models")).StatusCode.ShouldBe(HttpStatusCode.OK);

        for (var i = 0; i < new FailedKeyLookupsOptions().MaxUnknownKeysPerAddress; i++)
            (await gateway.KeyClient($"inf_{Guid.NewGuid():N}").GetAsync("/v1/models")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var refused = await gateway.KeyClient($"inf_{Guid.NewGuid():N}").GetAsync("/v1/models");

        refused.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        (await refused.JsonAsync())["error"]!["code"]!.GetValue<string>().ShouldBe("too_many_unknown_keys");
        refused.Headers.RetryAfter.ShouldNotBeNull();
        (await known.GetAsync("/v1/models")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
