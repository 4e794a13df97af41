using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Infery.Api.Gateway.ClientAddresses;

/// <summary>
/// A client as limits count it: an IPv4 address however it arrived (IPv4-mapped IPv6 included), or an IPv6 address
/// by its /64 network, which one client may hold whole. Held as the 128 bits of the IPv6 form, so it is compared and
/// hashed without allocating.
/// </summary>
public readonly record struct ClientNetwork(UInt128 Bits)
{
    public static ClientNetwork Of(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        bytes.Clear();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            bytes[10] = 0xff;
            bytes[11] = 0xff;
            address.TryWriteBytes(bytes[12..], out _);
        }
        else
        {
            address.TryWriteBytes(bytes, out _);
            if (!address.IsIPv4MappedToIPv6)
                bytes[8..].Clear();
        }
        return new ClientNetwork(BinaryPrimitives.ReadUInt128BigEndian(bytes));
    }

    private bool IsIpv4 => Bits >> 32 == 0xffff;

    /// <summary>
    /// Loopback, private, shared (carrier-grade NAT) or link-local, in either family: an address of the gateway's own
    /// network, such as its load balancer's, rather than of a client on the internet.
    /// </summary>
    public bool IsInternal
    {
        get
        {
            if (IsIpv4)
            {
                var v4 = (uint)Bits;
                return (v4 >> 24) is 10 or 127
                    || v4 >> 20 == 0xac1 // 172.16.0.0/12
                    || v4 >> 16 is 0xc0a8 or 0xa9fe // 192.168.0.0/16, 169.254.0.0/16
                    || v4 >> 22 == 0x191; // 100.64.0.0/10
            }
            var first16 = (ushort)(Bits >> 112);
            return Bits >> 64 == 0 // ::1 and the other reserved forms of ::/64
                || first16 >> 9 == 0x7e // fc00::/7, unique local
                || first16 >> 6 == 0x3fa; // fe80::/10, link-local
        }
    }
}
