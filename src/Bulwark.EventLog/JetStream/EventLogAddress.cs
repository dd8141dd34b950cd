using System.Globalization;

namespace Bulwark.EventLog.JetStream;

/// <summary>
/// Where a cluster's event log is: the NATS servers of one JetStream cluster, as
/// <c>nats://127.0.0.1:4222,nats://127.0.0.1:4223</c>. Given to a service by <c>serve --event-log</c>
/// or the <see cref="Variable"/> environment variable (the option wins), which <c>cluster up</c>
/// sets for every instance. Parsed and checked at start: a malformed address stops the process
/// with a message naming where it came from, instead of failing at the first append.
/// </summary>
public sealed record EventLogAddress
{
    /// <summary>The environment variable <c>cluster up</c> passes the address in.</summary>
    public const string Variable = "BULWARK_EVENT_LOG";

    /// <summary>The bank name of the local cluster's stream (<c>BULWARK_LEDGER_BULWARK</c>, subjects <c>bulwark.ledger.bulwark.p.N</c>).</summary>
    public const string BankDefault = "bulwark";

    /// <summary>More servers than a JetStream cluster has any use for (streams have at most 5 replicas) is a mistake, not a cluster.</summary>
    public const int ServersMax = 16;

    private EventLogAddress(IReadOnlyList<Uri> servers) => Servers = servers;

    /// <summary>The servers, in the order given; at least one.</summary>
    public IReadOnlyList<Uri> Servers { get; }

    /// <summary>The address as the NATS client takes it: the servers, comma-separated.</summary>
    public string Url => string.Join(",", Servers.Select(server => string.Create(CultureInfo.InvariantCulture, $"nats://{server.Host}:{server.Port}")));

    public override string ToString() => Url;

    /// <summary>The options of the bank's stream at this address.</summary>
    public JetStreamEventLogOptions Options(int replicas, string bank = BankDefault) => new() { Url = Url, Bank = bank, Replicas = replicas };

    /// <summary>Parses <c>nats://HOST:PORT[,nats://HOST:PORT...]</c>: every server a nats:// URL with a host and an explicit port, nothing else.</summary>
    public static bool TryParse(string? text, out EventLogAddress? address, out string error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "no NATS server given (expected nats://HOST:PORT[,nats://HOST:PORT...])";
            return false;
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > ServersMax)
        {
            error = $"{parts.Length} servers given, at most {ServersMax}";
            return false;
        }
        var servers = new List<Uri>(parts.Length);
        foreach (var part in parts)
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme != "nats" || uri.Host.Length == 0
                || uri.IsDefaultPort || uri.Port is < 1 or > 65_535 || uri.AbsolutePath is not ("/" or "") || uri.Query.Length > 0 || uri.UserInfo.Length > 0)
            {
                error = $"'{part}' is not a NATS server address (expected nats://HOST:PORT, as in nats://127.0.0.1:4222)";
                return false;
            }
            servers.Add(uri);
        }
        address = new EventLogAddress(servers);
        error = "";
        return true;
    }
}
