using System.Net;
using System.Net.Sockets;

namespace Bulwark.Edge.Throttling;

/// <summary>The key of a request's source for per-source limits.</summary>
public static class SourceAddress
{
    /// <summary>
    /// The TCP peer (forwarded-for headers are not trusted: no proxy in front of the edge is known
    /// yet), IPv4 as is, IPv6 by its /64 prefix — one subscriber's network, which hands out fresh
    /// addresses inside it at will.
    /// </summary>
    public static string Key(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
