using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Bulwark.CardNetwork.Link;

/// <summary>
/// Issuer link addresses as people write them: <c>host:port</c>, where host is an IPv4 address, a
/// bracketed IPv6 address (<c>[::1]:7400</c>) or a DNS name, and port is 1-65535.
/// </summary>
public static class IssuerLinkAddresses
{
    /// <summary>Parses one <c>host:port</c>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? text, out EndPoint? endPoint, out string? error)
    {
        endPoint = null;
        var value = text?.Trim() ?? string.Empty;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1)
        {
            error = $"'{value}' is not host:port";
            return false;
        }

        var portText = value[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65_535)
        {
            error = $"'{value}': the port must be 1-65535, not '{portText}'";
            return false;
        }

        var host = value[..colon];
        if (host.StartsWith('[') && host.EndsWith(']') && IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
        {
            endPoint = new IPEndPoint(v6, port);
        }
        else if (!host.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(host, out var v4) && v4.AddressFamily == AddressFamily.InterNetwork && host.Count(c => c == '.') == 3)
        {
            endPoint = new IPEndPoint(v4, port);
        }
        else if (Uri.CheckHostName(host) == UriHostNameType.Dns && !host.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            endPoint = new DnsEndPoint(host, port);
        }
        else
        {
            error = $"'{value}': '{host}' is not an IP address or host name";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Parses a comma-separated list (<c>--link a:1,b:2</c>); the first bad entry fails it all.</summary>
    public static bool TryParseList(string? text, out IReadOnlyList<EndPoint> endPoints, out string? error)
    {
        var parsed = new List<EndPoint>();
        endPoints = parsed;
        foreach (var part in (text ?? string.Empty).Split(',', StringSplitOptions.TrimEntries))
        {
            if (!TryParse(part, out var endPoint, out error))
            {
                return false;
            }

            parsed.Add(endPoint!);
        }

        error = null;
        return true;
    }

    /// <summary>
    /// The canonical <c>host:port</c> of an endpoint: a link's name in logs and results, and the key
    /// its cards are hashed with, so two schemes given the same list route every card alike.
    /// </summary>
    public static string Format(EndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return endPoint switch
        {
            DnsEndPoint dns => string.Create(CultureInfo.InvariantCulture, $"{dns.Host.ToLowerInvariant()}:{dns.Port}"),
            IPEndPoint ip => ip.ToString(),
            _ => endPoint.ToString() ?? string.Empty,
        };
    }
}
