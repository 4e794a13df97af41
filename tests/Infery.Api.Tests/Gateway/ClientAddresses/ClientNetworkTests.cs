using System.Net;
using Infery.Api.Gateway.ClientAddresses;

namespace Infery.Api.Tests.Gateway.ClientAddresses;

public sealed class ClientNetworkTests
{
    private static ClientNetwork Of(string address) => ClientNetwork.Of(IPAddress.Parse(address));

    [Fact]
    public void An_IPv4_address_is_one_client_however_it_arrives()
    {
        Of("203.0.113.7").ShouldBe(Of("::ffff:203.0.113.7"));
        Of("203.0.113.7").ShouldNotBe(Of("203.0.113.8"));
    }

    [Fact]
    public void An_IPv6_address_counts_by_its_64_bit_network()
    {
        Of("2001:db8:1:2::1").ShouldBe(Of("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        Of("2001:db8:1:2::1").ShouldNotBe(Of("2001:db8:1:3::1"));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.254")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.10.20")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.254")]
    [InlineData("::ffff:10.0.0.5")]
    [InlineData("::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("fc00::1")]
    [InlineData("fe80::1")]
    [InlineData("febf::1")]
    public void Addresses_of_the_gateways_own_network_are_internal(string address) =>
        Of(address).IsInternal.ShouldBeTrue();

    [Theory]
    [InlineData("203.0.113.7")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("192.169.0.1")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.1")]
    [InlineData("11.0.0.1")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("2001:db8::1")]
    [InlineData("fbff::1")]
    [InlineData("fec0::1")]
    public void Addresses_on_the_internet_are_not(string address) =>
        Of(address).IsInternal.ShouldBeFalse();
}
