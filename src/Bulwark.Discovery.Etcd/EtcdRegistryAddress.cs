namespace Bulwark.Discovery.Etcd;

/// <summary>
/// Parses a registry address of the form <c>etcd://host:port[,host:port...]</c> into the client
/// URLs of the members to try. Anything else is refused with a message that shows the expected form.
/// </summary>
public static class EtcdRegistryAddress
{
    public const string Scheme = "etcd://";

    public static IReadOnlyList<Uri> Parse(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"A registry address starts with {Scheme}, as in {Scheme}127.0.0.1:2379,127.0.0.1:2479; got '{address}'.");
        }
        var members = address[Scheme.Length..].Split(',', StringSplitOptions.TrimEntries);
        var endpoints = new List<Uri>(members.Length);
        foreach (var member in members)
        {
            var colon = member.LastIndexOf(':');
            if (member.Length == 0 || colon <= 0
                || !int.TryParse(member.AsSpan(colon + 1), out var port) || port is <= 0 or > 65535
                || member.Contains('/', StringComparison.Ordinal)
                || !Uri.TryCreate($"http://{member}", UriKind.Absolute, out var uri))
            {
                throw new FormatException($"'{member}' in '{address}' is not host:port (port 1-65535).");
            }
            endpoints.Add(uri);
        }
        return endpoints;
    }
}
