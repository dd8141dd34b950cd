using System.Net;

namespace Bulwark.Cards.Link;

/// <summary>
/// The source addresses that may open a link connection (<see cref="CardsOptions.LinkAllowedSources"/>).
/// The link carries card numbers and moves money, so only the scheme's own addresses may reach it,
/// whatever the network in front of it lets through.
/// </summary>
public sealed class CardLinkAllowList
{
    private readonly IPNetwork[] _networks;

    /// <summary>An allow-list of the given sources.</summary>
    /// <exception cref="ArgumentException">A source is neither an IP address nor a CIDR block.</exception>
    public CardLinkAllowList(IEnumerable<string> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _networks = [.. sources.Select(source => TryParse(source, out var network)
            ? network
            : throw new ArgumentException($"'{source}' is not an IP address or a CIDR block.", nameof(sources)))];
    }

    /// <summary>Reads <c>10.20.0.0/16</c>, <c>2001:db8::/32</c> or a single address (a /32 or /128 block).</summary>
    public static bool TryParse(string? source, out IPNetwork network)
    {
        network = default;
        var text = source?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        if (text.Contains('/', StringComparison.Ordinal))
        {
            // 10.20.0.1/16 is refused rather than read as 10.20.0.0/16: it is more likely a typo than a block.
            return IPNetwork.TryParse(text, out network)
                && IPAddress.TryParse(text.AsSpan(0, text.IndexOf('/', StringComparison.Ordinal)), out var written)
                && written.Equals(network.BaseAddress);
        }
        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }
        network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    /// <summary>Whether a peer may connect; an IPv4 peer seen on a dual-stack socket counts as its IPv4 address.</summary>
    public bool Allows(EndPoint? remote)
    {
        if (remote is not IPEndPoint { Address: var address })
        {
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }
        return false;
    }
}
