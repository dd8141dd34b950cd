using System.Net;

namespace Bulwark.Platform.Security;

/// <summary>
/// A list of source networks a listener accepts connections or requests from: the card link's
/// scheme addresses (it carries card numbers and moves money), the internal staff edge's allowed
/// ranges and its trusted proxies. Whatever the network in front of a listener lets through, only
/// listed sources get in.
/// </summary>
public sealed class SourceNetworks
{
    private readonly IPNetwork[] _networks;

    /// <summary>A list of the given sources.</summary>
    /// <exception cref="ArgumentException">A source is neither an IP address nor a CIDR block.</exception>
    public SourceNetworks(IEnumerable<string> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _networks = [.. sources.Select(source => TryParse(source, out var network)
            ? network
            : throw new ArgumentException($"'{source}' is not an IP address or a CIDR block.", nameof(sources)))];
    }

    /// <summary>No source at all.</summary>
    public static SourceNetworks None { get; } = new([]);

    /// <summary>The networks, as CIDR text, in the order given.</summary>
    public IReadOnlyList<string> Blocks => [.. _networks.Select(network => network.ToString())];

    /// <summary>
    /// Reads a comma- or whitespace-separated list of blocks; null with <paramref name="error"/>
    /// naming the first unusable entry (or saying the list is empty) otherwise.
    /// </summary>
    public static SourceNetworks? TryParseList(string? text, out string? error)
    {
        var entries = (text ?? "").Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length == 0)
        {
            error = "the list names no network";
            return null;
        }
        foreach (var entry in entries)
        {
            if (!TryParse(entry, out _))
            {
                error = $"'{entry}' is not an IP address or a CIDR block";
                return null;
            }
        }
        error = null;
        return new SourceNetworks(entries);
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
    public bool Allows(EndPoint? remote) => remote is IPEndPoint { Address: var address } && Contains(address);

    /// <summary>Whether an address is in one of the networks (an IPv4-mapped IPv6 address as its IPv4 address).</summary>
    public bool Contains(IPAddress? address)
    {
        if (address is null)
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
