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

    private static FailedKeyLookups Lookups(ManualClock clock, int max = 3, int maxAddresses = 100_000) =>
        new(Options.Create(new FailedKeyLookupsOptions { MaxUnknownKeysPerAddress = max, WindowSeconds = 10 }), clock, maxAddresses);

    [Fact]
    public void An_address_is_refused_once_it_used_up_its_lookups_until_the_window_its_first_began_ends()
    {
        var clock = new ManualClock();
        var lookups = Lookups(clock);

        lookups.TryStart(Guesser, out _).ShouldBeTrue();
        lookups.TryStart(Guesser, out _).ShouldBeTrue();
        clock.Advance(TimeSpan.FromSeconds(4));
        lookups.TryStart(Guesser, out _).ShouldBeTrue();

        lookups.TryStart(Guesser, out var retryAfter).ShouldBeFalse();
        retryAfter.ShouldBe(TimeSpan.FromSeconds(6));
        lookups.TryStart(Other, out _).ShouldBeTrue();
        clock.Advance(TimeSpan.FromSeconds(6));
        lookups.TryStart(Guesser, out _).ShouldBeTrue();
    }

    [Fact]
    public void A_lookup_that_found_its_key_gives_its_count_back()
    {
        var lookups = Lookups(new ManualClock());

        for (var i = 0; i < 10; i++)
        {
            lookups.TryStart(Guesser, out _).ShouldBeTrue();
            lookups.GiveBack(Guesser);
        }
    }

    [Fact]
    public void Lookups_started_at_once_are_counted_before_any_ends()
    {
        var lookups = Lookups(new ManualClock(), max: 20);
        var started = 0;

        Parallel.For(0, 200, attempt =>
        {
            if (lookups.TryStart(Guesser, out _))
                Interlocked.Increment(ref started);
        });

        started.ShouldBe(20);
    }

    [Fact]
    public void An_ipv4_address_counts_the_same_however_it_comes_and_an_ipv6_address_by_its_64_bit_network()
    {
        var lookups = Lookups(new ManualClock(), max: 2);

        lookups.TryStart(IPAddress.Parse("203.0.113.7"), out _).ShouldBeTrue();
        lookups.TryStart(IPAddress.Parse("::ffff:203.0.113.7"), out _).ShouldBeTrue();
        lookups.TryStart(Guesser, out _).ShouldBeFalse();

        lookups.TryStart(IPAddress.Parse("2001:db8:1:2::1"), out _).ShouldBeTrue();
        lookups.TryStart(IPAddress.Parse("2001:db8:1:2:ffff::9"), out _).ShouldBeTrue();
        lookups.TryStart(IPAddress.Parse("2001:db8:1:2::77"), out _).ShouldBeFalse();
        lookups.TryStart(IPAddress.Parse("2001:db8:1:3::1"), out _).ShouldBeTrue();
    }

    [Fact]
    public void Past_its_bound_it_counts_no_new_address_until_windows_end_and_are_dropped()
    {
        var clock = new ManualClock();
        var lookups = Lookups(clock, max: 1, maxAddresses: 2);
        lookups.TryStart(IPAddress.Parse("192.0.2.1"), out _).ShouldBeTrue();
        lookups.TryStart(IPAddress.Parse("192.0.2.2"), out _).ShouldBeTrue();

        // A third address is not counted, so never refused, rather than let the table grow.
        lookups.TryStart(IPAddress.Parse("192.0.2.3"), out _).ShouldBeTrue();
        lookups.TryStart(IPAddress.Parse("192.0.2.3"), out _).ShouldBeTrue();
        clock.Advance(TimeSpan.FromSeconds(10));
        lookups.TryStart(IPAddress.Parse("192.0.2.3"), out _).ShouldBeTrue();

        lookups.TryStart(IPAddress.Parse("192.0.2.3"), out _).ShouldBeFalse();
    }

    [Fact]
    public void Requests_without_an_address_and_a_limit_of_zero_are_never_refused()
    {
        var lookups = Lookups(new ManualClock());
        var off = Lookups(new ManualClock(), max: 0);

        for (var i = 0; i < 10; i++)
        {
            lookups.TryStart(null, out _).ShouldBeTrue();
            off.TryStart(Guesser, out _).ShouldBeTrue();
        }
    }

    [Theory]
    [InlineData(-1, 10)]
    [InlineData(20, 0)]
    [InlineData(20, 3_601)]
    public void Settings_out_of_range_are_refused(int maxUnknown, int windowSeconds) =>
        new FailedKeyLookupsOptions { MaxUnknownKeysPerAddress = maxUnknown, WindowSeconds = windowSeconds }.IsValid.ShouldBeFalse();
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
