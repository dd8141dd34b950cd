using System.Globalization;
using System.Text;
using System.Text.Json;
using Bulwark.EventLog;
using Bulwark.EventLog.JetStream;

namespace Bulwark.Lab.Cluster;

/// <summary>
/// The local cluster's event log: nats-server processes (the binary on PATH) with JetStream, on
/// loopback ports, routed to each other as one JetStream cluster when there are two or more. Each
/// has a config file <c>STATE/data/nats/NAME.conf</c> (rewritten at every start, from the state),
/// its store in <c>STATE/data/nats/NAME</c> and its log in <c>STATE/logs/nats-NAME.log</c>.
/// Servers are named nats1, nats2, ... whatever their ports: a server's name is its identity in
/// the JetStream cluster, so a cluster started again on the same state finds its streams again.
/// </summary>
public static class LocalNats
{
    public const int ServersDefault = 3;

    /// <summary>A JetStream stream has at most 5 replicas; more servers than that add nothing to one bank's stream.</summary>
    public const int ServersMax = 5;

    /// <summary>The stream's replicas: three (a quorum survives one server lost), fewer when there are fewer servers.</summary>
    public const int StreamReplicasMax = 3;

    /// <summary>The JetStream cluster's name (the servers' routes are explicit, so two local clusters never meet).</summary>
    public const string ClusterName = "bulwark";

    /// <summary>
    /// A server starts in well under a second; a cluster elects its meta leader in a few more. Generous
    /// for a loaded 2-core machine: in a full test run, three servers brought back up on the same data
    /// with new ports had not elected a meta leader after 30 s (ClusterNatsTests), so 60.
    /// </summary>
    private const int HealthyWithinSecondsMax = 60;

    /// <summary>Creating the stream waits for its replicas to elect a leader (seconds after a restart of every server).</summary>
    private const int StreamReadyWithinSecondsMax = 60;

    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    public static string RequireBinary() =>
        LocalProcesses.FindOnPath("nats-server")
        ?? throw new ClusterException("nats-server is not on PATH: install it (Debian/Ubuntu: apt-get install nats-server) or add its directory to PATH; or start without the event log's servers with --nats-servers 0.");

    /// <summary>The servers of a new cluster, named nats1..nats<paramref name="count"/>, each on three free ports.</summary>
    public static List<NatsServerState> NewServers(int count)
    {
        var taken = new HashSet<int>();
        int Port()
        {
            int port;
            do
            {
                port = LocalProcesses.FreePort();
            }
            while (!taken.Add(port));
            return port;
        }
        return [.. Enumerable.Range(1, count).Select(i => new NatsServerState
        {
            Name = string.Create(CultureInfo.InvariantCulture, $"nats{i}"),
            ClientPort = Port(),
            ClusterPort = Port(),
            MonitorPort = Port(),
        })];
    }

    /// <summary>The bank's stream in the local cluster (BULWARK_LEDGER_BULWARK).</summary>
    public static string StreamName => new JetStreamEventLogOptions { Url = "nats://127.0.0.1:4222", Bank = EventLogAddress.BankDefault }.Stream;

    public static int StreamReplicas(int servers) => Math.Min(StreamReplicasMax, servers);

    public static string StoreDirectory(string stateDirectory, NatsServerState server) => Path.Combine(stateDirectory, "data", "nats", server.Name);

    public static string ConfigPath(string stateDirectory, NatsServerState server) => Path.Combine(stateDirectory, "data", "nats", server.Name + ".conf");

    public static string LogPath(string stateDirectory, NatsServerState server) => Path.Combine(stateDirectory, "logs", $"nats-{server.Name}.log");

    /// <summary>Writes the server's config file from the state and starts it detached; records its PID.</summary>
    public static void Launch(string stateDirectory, ClusterState state, NatsServerState server)
    {
        var binary = RequireBinary();
        var config = ConfigPath(stateDirectory, server);
        Directory.CreateDirectory(StoreDirectory(stateDirectory, server));
        File.WriteAllText(config, Config(stateDirectory, state, server));
        server.Pid = LocalProcesses.StartDetached(binary, ["-c", config], LogPath(stateDirectory, server));
    }

    /// <summary>The config file: a config rather than flags because a JetStream cluster needs a server name, a cluster name and routes.</summary>
    public static string Config(string stateDirectory, ClusterState state, NatsServerState server)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(server);
        var text = new StringBuilder();
        text.AppendLine("# Written by bulwark cluster up from cluster.json at every start of this server; edits are lost.");
        text.AppendLine(CultureInfo.InvariantCulture, $"server_name: {server.Name}");
        text.AppendLine(CultureInfo.InvariantCulture, $"listen: 127.0.0.1:{server.ClientPort}");
        text.AppendLine(CultureInfo.InvariantCulture, $"http: 127.0.0.1:{server.MonitorPort}");
        text.AppendLine(CultureInfo.InvariantCulture, $"jetstream {{ store_dir: {JsonSerializer.Serialize(StoreDirectory(stateDirectory, server))} }}");
        if (state.NatsServers.Count > 1)
        {
            var routes = string.Join(", ", state.NatsServers.Where(other => other != server).Select(other => $"nats-route://127.0.0.1:{other.ClusterPort}"));
            text.AppendLine(CultureInfo.InvariantCulture, $"cluster {{ name: {ClusterName}, listen: 127.0.0.1:{server.ClusterPort}, routes: [{routes}] }}");
        }
        return text.ToString();
    }

    /// <summary>
    /// Waits until the server answers <c>/healthz</c> ok: JetStream on and, in a cluster, in
    /// contact with the meta leader. Throws naming the server and its log's last line when it
    /// exits or is not healthy within the bound.
    /// </summary>
    public static async Task WaitHealthyAsync(string stateDirectory, NatsServerState server, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = ProbeTimeout };
        var deadline = DateTime.UtcNow.AddSeconds(HealthyWithinSecondsMax);
        var last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (!LocalProcesses.IsRunning(server.Pid, stateDirectory))
            {
                throw new ClusterException(Explain(stateDirectory, server, $"NATS server {server.Name} exited at start"));
            }
            (var healthy, last) = await HealthAsync(http, server, cancellationToken);
            if (healthy)
            {
                return;
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new ClusterException(Explain(stateDirectory, server, $"NATS server {server.Name} not healthy within {HealthyWithinSecondsMax} s ({last})"));
    }

    /// <summary>What <c>/healthz</c> says: healthy, and "ok" or the server's own reason.</summary>
    public static async Task<(bool Healthy, string Detail)> HealthAsync(HttpClient http, NatsServerState server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(server);
        try
        {
            using var response = await http.GetAsync(new Uri($"{server.MonitorUrl}/healthz"), cancellationToken);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            var status = body.RootElement.TryGetProperty("status", out var value) ? value.GetString() : null;
            var error = body.RootElement.TryGetProperty("error", out var reason) ? reason.GetString() : null;
            return status == "ok" ? (true, "ok") : (false, error ?? status ?? "no status");
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException)
        {
            return (false, "monitoring port unreachable");
        }
    }

    /// <summary>The bank's stream as a server reports it (<c>/jsz</c>): its replicas and messages, or null when that server does not hold it.</summary>
    public static async Task<(int Replicas, long Messages)?> StreamAsync(HttpClient http, NatsServerState server, string stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(server);
        try
        {
            using var body = JsonDocument.Parse(await http.GetStringAsync(new Uri($"{server.MonitorUrl}/jsz?accounts=true&streams=true&config=true"), cancellationToken));
            if (!body.RootElement.TryGetProperty("account_details", out var accounts) || accounts.ValueKind != JsonValueKind.Array)
            {
                return null;
            }
            foreach (var detail in accounts.EnumerateArray().Where(a => a.TryGetProperty("stream_detail", out _)).SelectMany(a => a.GetProperty("stream_detail").EnumerateArray()))
            {
                if (detail.GetProperty("name").GetString() == stream)
                {
                    var replicas = detail.TryGetProperty("config", out var config) && config.TryGetProperty("num_replicas", out var count) ? count.GetInt32() : 1;
                    var messages = detail.TryGetProperty("state", out var state) && state.TryGetProperty("messages", out var number) ? number.GetInt64() : 0;
                    return (replicas, messages);
                }
            }
            return null;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// Creates the bank's stream (or finds it, with its records, after a restart) through the
    /// event log itself, so that it exists with its replicas before any cell runs. Asked again
    /// while the servers elect leaders, within a bound.
    /// </summary>
    public static async Task<JetStreamEventLogOptions> EnsureStreamAsync(ClusterState state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!EventLogAddress.TryParse(state.EventLogAddress, out var address, out var error))
        {
            throw new ClusterException($"the NATS servers' address is malformed: {error}");
        }
        var options = address!.Options(StreamReplicas(state.NatsServers.Count));
        var deadline = DateTime.UtcNow.AddSeconds(StreamReadyWithinSecondsMax);
        while (true)
        {
            try
            {
                await using var log = await JetStreamEventLog.OpenAsync(options, cancellationToken: cancellationToken);
                return options;
            }
            catch (EventLogException exception) when (exception.Error == EventLogError.Unavailable)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new ClusterException($"could not create the event log's stream {options.Stream} (replicas {options.Replicas}) within {StreamReadyWithinSecondsMax} s: {exception.Message}");
                }
                await Task.Delay(500, cancellationToken);
            }
        }
    }

    public static Task<string> StopAsync(string stateDirectory, NatsServerState server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        return LocalProcesses.StopAsync(server.Pid, stateDirectory, StopGrace, cancellationToken);
    }

    /// <summary>Why a server did not come up: the reason, its log's last line (nats-server says why there), the log's path.</summary>
    public static string Explain(string stateDirectory, NatsServerState server, string failure)
    {
        ArgumentNullException.ThrowIfNull(server);
        var path = LogPath(stateDirectory, server);
        string? last = null;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            last = reader.ReadToEnd().Split('\n').LastOrDefault(line => !string.IsNullOrWhiteSpace(line));
        }
        catch (IOException)
        {
            // No log: the path still says where to look.
        }
        return last is null ? $"{failure}; see {path}" : $"{failure} (its last log line: {last.Trim()}); see {path}";
    }
}
