using System.Globalization;
using System.Net;
using System.Text;
using Bulwark.Discovery.Etcd.Api;
using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Lab.Cluster;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Bulwark.Cli.Cluster;

/// <summary>
/// What <c>bulwark cluster status</c> prints: the etcd members, each service's desired state (its
/// deployment record in etcd) and every instance with its process, registration, grpc.health.v1
/// answer, version and discovery freshness (the process's own <c>discovery_stale_seconds</c>,
/// read from its <c>/metrics</c>). Every probe has a short deadline: a hung process shows as such
/// instead of hanging the command.
/// </summary>
internal static class ClusterStatus
{
    /// <summary>A view older than this counts as stale (the registry's default threshold, R3).</summary>
    private const double StaleAfterSeconds = 3;
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The report, and whether everything is well: every member healthy, every instance running, registered (where it registers) and SERVING.</summary>
    public static async Task<(string Report, bool AllHealthy)> ReportAsync(string stateDirectory, ClusterState state, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var allHealthy = true;
        text.AppendLine(CultureInfo.InvariantCulture, $"cluster in {stateDirectory} (up since {state.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, store {(state.OnPostgres ? Storage.Postgres.PostgresConnections.Redact(state.Store) : state.Store)})");
        using var http = new HttpClient { Timeout = ProbeTimeout };
        text.AppendLine(CultureInfo.InvariantCulture, $"etcd: {state.Members.Count} member(s)");
        foreach (var member in state.Members)
        {
            var running = LocalProcesses.IsRunning(member.Pid, stateDirectory);
            var healthy = running && await LocalEtcd.IsHealthyAsync(http, member, cancellationToken);
            allHealthy &= healthy;
            text.AppendLine(CultureInfo.InvariantCulture, $"  {member.Name,-8} {member.ClientUrl,-24} pid {member.Pid,-8} {(healthy ? "healthy" : running ? "UNHEALTHY" : "NOT RUNNING")}");
        }

        allHealthy &= await AppendNatsAsync(text, http, stateDirectory, state, cancellationToken);

        if (state.Postgres is { } postgres)
        {
            var running = LocalProcesses.IsRunning(postgres.Pid, stateDirectory);
            allHealthy &= running;
            text.AppendLine(CultureInfo.InvariantCulture, $"postgres: 127.0.0.1:{postgres.Port} pid {postgres.Pid} {(running ? "running" : "NOT RUNNING")} (data in {LocalPostgres.DataDirectory(stateDirectory)})");
        }

        var supervising = LocalProcesses.IsRunning(state.SupervisorPid, stateDirectory);
        allHealthy &= supervising;
        text.AppendLine(CultureInfo.InvariantCulture, $"supervisor: {(supervising ? $"pid {state.SupervisorPid} running" : "NOT RUNNING (instances that die stay down; start it again with: bulwark cluster supervise --state DIR &)")}, {state.Instances.Sum(i => i.Restarts)} restart(s) so far");

        if (state.Scheme is { } scheme)
        {
            var schemeRunning = LocalProcesses.IsRunning(scheme.Pid, stateDirectory);
            text.AppendLine(CultureInfo.InvariantCulture, $"scheme: pid {scheme.Pid} {(schemeRunning ? "running" : "NOT RUNNING")}, {scheme.Rate} card authorisations/s to {state.Instances.Count(i => i.LinkPort is not null)} card link(s) (log {SchemeState.LogPath(stateDirectory)})");
        }

        var (records, etcdError) = await ReadRecordsAsync(state, cancellationToken);
        if (etcdError is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  etcd unreachable: {etcdError} (registration and deployment records unknown)");
        }
        text.AppendLine("services:");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"SERVICE",-10} {"REPLICAS",-9} {"VERSION",-14} {"PREVIOUS",-14} {"IN ETCD",-20}");
        foreach (var service in state.Services)
        {
            var deployment = records.TryGetValue($"/bulwark/deployments/{service.Name}", out var value)
                && DiscoveryRecords.TryParseDeployment(value, out var record, out _)
                ? $"replicas {record.Replicas?.ToString(CultureInfo.InvariantCulture) ?? "?"} {record.Version}"
                : "no record";
            text.AppendLine(CultureInfo.InvariantCulture, $"  {service.Name,-10} {service.Replicas,-9} {service.Version,-14} {service.PreviousVersion ?? "-",-14} {deployment,-20}");
            foreach (var stopped in service.StoppedCells ?? [])
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"    cell {stopped} STOPPED (0 instances; bulwark scale {service.Name}-{stopped} {service.Replicas} starts it)");
            }
        }

        var healthOf = new Dictionary<string, string>(StringComparer.Ordinal);
        text.AppendLine("instances:");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"INSTANCE",-12} {"VERSION",-14} {"PID",-8} {"ADDRESS",-17} {"PROCESS",-13} {"RESTARTS",-8} {"REGISTERED",-10} {"HEALTH",-12} DISCOVERY");
        foreach (var instance in state.Instances.OrderBy(i => i.Service, StringComparer.Ordinal).ThenBy(i => i.Id, StringComparer.Ordinal))
        {
            var running = LocalProcesses.IsRunning(instance.Pid, stateDirectory);
            var registered = !ClusterServices.Registers(instance.Service) || records.Any(r => r.Key.StartsWith($"/bulwark/services/{instance.RegisteredAs}/", StringComparison.Ordinal)
                && Encoding.UTF8.GetString(r.Value).Contains($"\"{instance.Address}\"", StringComparison.Ordinal));
            var health = running ? await HealthAsync(instance, cancellationToken) : "-";
            healthOf[instance.Id] = running && registered ? health : running ? "NOT REGISTERED" : "NOT RUNNING";
            var discovery = running ? await DiscoveryFreshnessAsync(instance, cancellationToken) : "-";
            allHealthy &= running && registered && etcdError is null && health == "SERVING";
            var process = Phase(instance, running);
            allHealthy &= process == InstancePhase.Running;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"  {instance.Id,-12} {instance.Version,-14} {instance.Pid,-8} {instance.Address,-17} {process,-13} {instance.Restarts,-8} {(!ClusterServices.Registers(instance.Service) ? "n/a" : etcdError is not null ? "?" : registered ? "yes" : "NO"),-10} {health,-12} {discovery}");
            if (instance.LastRestartAt is { } restartedAt)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  {"",-12} last restart {restartedAt:HH:mm:ss} UTC: {instance.LastRestartReason}");
            }
        }
        allHealthy &= AppendCells(text, state, records, etcdError, healthOf);
        foreach (var link in state.Instances.Where(i => i.LinkPort is not null))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"card link {link.Id}: 127.0.0.1:{link.LinkPort} (ISO 8583; the scheme reads {Path.Combine(stateDirectory, ClusterState.CardLinksFileName)})");
        }
        foreach (var edge in state.Instances.Where(i => i.PublicPort is not null))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"edge {edge.Id}: http://127.0.0.1:{edge.PublicPort}/");
        }
        foreach (var staffEdge in state.Instances.Where(i => i.StaffPort is not null))
        {
            var gateway = staffEdge.OperatorPort is { } operatorPort ? $", operator gateway http://127.0.0.1:{operatorPort} (HTTP/2)" : "";
            text.AppendLine(CultureInfo.InvariantCulture, $"staff edge {staffEdge.Id}: http://127.0.0.1:{staffEdge.StaffPort}/staff/{gateway}");
        }
        return (text.ToString(), allHealthy);
    }

    /// <summary>
    /// The ledger's cells as the placement map in etcd places them: each cell, how many partitions
    /// it owns, and its instances with their health. False when a cell of the map has no healthy
    /// instance (its accounts cannot be served) or the map cannot be read while etcd answers.
    /// </summary>
    private static bool AppendCells(StringBuilder text, ClusterState state, Dictionary<string, byte[]> records, string? etcdError, Dictionary<string, string> healthOf)
    {
        if (etcdError is not null)
        {
            text.AppendLine("cells: unknown (etcd unreachable: the placement map cannot be read)");
            return false;
        }
        if (!records.TryGetValue(PlacementMapKey, out var value))
        {
            text.AppendLine($"cells: NO PLACEMENT MAP in etcd ({PlacementMapKey}): no ledger cell can start");
            return false;
        }
        var read = Platform.Placement.PlacementRead.Decode(0, value);
        if (read.Map is not { } map)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"cells: the placement map in etcd cannot be used: {read.Error?.Message}");
            return false;
        }
        var healthy = true;
        text.AppendLine(CultureInfo.InvariantCulture, $"cells: {map.Cells.Count}, placement map version {map.Version}, {map.PartitionCount} partitions, cluster {map.ClusterId}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"CELL",-8} {"PARTITIONS",-10} INSTANCES");
        var ledger = state.Service(Hosting.BankModules.Ledger);
        foreach (var cell in map.Cells.Keys.Order(StringComparer.Ordinal))
        {
            var instances = state.Instances.Where(i => i.Service == Hosting.BankModules.Ledger && i.Cell == cell).OrderBy(i => i.Id, StringComparer.Ordinal).ToList();
            var described = instances.Count == 0
                ? ledger?.Replicas == 0 ? "none (ledger scaled to 0)" : ledger?.ReplicasOf(cell) == 0 ? "NONE: stopped alone (its partitions are not served)" : "NONE"
                : string.Join(", ", instances.Select(i => $"{i.Id} {healthOf.GetValueOrDefault(i.Id, "?")}"));
            healthy &= (ledger?.Replicas == 0 && instances.Count == 0) || instances.Any(i => healthOf.GetValueOrDefault(i.Id) == "SERVING");
            text.AppendLine(CultureInfo.InvariantCulture, $"  {cell,-8} {map.PartitionsOf(cell).Count,-10} {described}");
        }
        return healthy;
    }

    private const string PlacementMapKey = "/bulwark/placement/map";

    /// <summary>
    /// The event log's NATS servers, each with its process and <c>/healthz</c> (JetStream on and
    /// in contact with its meta leader), and the bank's stream as a healthy server reports it.
    /// False when a server is not healthy or the stream is missing.
    /// </summary>
    private static async Task<bool> AppendNatsAsync(StringBuilder text, HttpClient http, string stateDirectory, ClusterState state, CancellationToken cancellationToken)
    {
        if (state.NatsServers.Count == 0)
        {
            text.AppendLine("nats: none (started with --nats-servers 0)");
            return true;
        }
        var healthy = true;
        var lines = new List<string>();
        NatsServerState? answering = null;
        foreach (var server in state.NatsServers)
        {
            var running = LocalProcesses.IsRunning(server.Pid, stateDirectory);
            var (ok, detail) = running ? await LocalNats.HealthAsync(http, server, cancellationToken) : (false, "");
            healthy &= ok;
            answering ??= ok ? server : null;
            var health = ok ? "healthy, JetStream on" : running ? $"UNHEALTHY ({detail})" : "NOT RUNNING";
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"  {server.Name,-8} {server.ClientUrl,-24} pid {server.Pid,-8} {health}, {server.Restarts} restart(s)"));
        }
        var name = LocalNats.StreamName;
        var stream = answering is null ? null : await LocalNats.StreamAsync(http, answering, name, cancellationToken);
        healthy &= stream is not null;
        var described = stream is { } found
            ? string.Create(CultureInfo.InvariantCulture, $"stream {name}: {found.Replicas} replica(s), {found.Messages} message(s)")
            : answering is null ? $"stream {name}: unknown (no server healthy)" : $"stream {name}: MISSING";
        text.AppendLine(CultureInfo.InvariantCulture, $"nats: {state.NatsServers.Count} server(s), {described}; logs {Path.Combine(stateDirectory, "logs", "nats-*.log")}");
        foreach (var line in lines)
        {
            text.AppendLine(line);
        }
        return healthy;
    }

    /// <summary>
    /// What the process column says: running, or — when the process is gone or the supervisor is
    /// bringing it back — restarting or crash-looping as the supervisor last recorded it.
    /// </summary>
    private static string Phase(InstanceState instance, bool running) =>
        (running, instance.Phase) switch
        {
            (true, InstancePhase.Running) => InstancePhase.Running,
            (_, InstancePhase.CrashLooping) => InstancePhase.CrashLooping,
            (_, InstancePhase.Restarting) => InstancePhase.Restarting,
            (false, _) => "NOT RUNNING",
            _ => instance.Phase,
        };

    /// <summary>Every key under /bulwark/ with its value, or why etcd could not be read.</summary>
    private static async Task<(Dictionary<string, byte[]> Records, string? Error)> ReadRecordsAsync(ClusterState state, CancellationToken cancellationToken)
    {
        var records = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (state.Members.Count == 0)
        {
            return (records, "no members");
        }
        using var cluster = LocalEtcd.Connect(state);
        try
        {
            var prefix = "/bulwark/"u8.ToArray();
            var end = (byte[])prefix.Clone();
            end[^1]++;
            var response = await cluster.CallAsync(
                (channel, options) => new KV.KVClient(channel).RangeAsync(
                    new RangeRequest { Key = ByteString.CopyFrom(prefix), RangeEnd = ByteString.CopyFrom(end) }, options).ResponseAsync,
                cancellationToken);
            foreach (var kv in response.Kvs)
            {
                records[kv.Key.ToStringUtf8()] = kv.Value.ToByteArray();
            }
            return (records, null);
        }
        catch (Discovery.Etcd.EtcdUnavailableException exception)
        {
            return (records, exception.Message);
        }
    }

    private static async Task<string> HealthAsync(InstanceState instance, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress($"http://{instance.Address}", new GrpcChannelOptions { Credentials = ChannelCredentials.Insecure });
        try
        {
            var reply = await new Health.HealthClient(channel).CheckAsync(
                new HealthCheckRequest { Service = ClusterServices.Registers(instance.Service) ? instance.RegisteredAs : "" }, deadline: DateTime.UtcNow.Add(ProbeTimeout), cancellationToken: cancellationToken);
            return reply.Status.ToString().ToUpperInvariant();
        }
        catch (RpcException error)
        {
            return error.StatusCode.ToString().ToUpperInvariant();
        }
    }

    /// <summary>The process's <c>discovery_stale_seconds</c>, read over HTTP/2 from its internal port.</summary>
    private static async Task<string> DiscoveryFreshnessAsync(InstanceState instance, CancellationToken cancellationToken)
    {
        using var http = new HttpClient
        {
            Timeout = ProbeTimeout,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        try
        {
            var metrics = await http.GetStringAsync(new Uri($"http://{instance.Address}/metrics"), cancellationToken);
            var stale = Bulwark.Lab.PrometheusText.ParseGauge(metrics, "discovery_stale_seconds");
            return stale switch
            {
                null => "no metric",
                <= StaleAfterSeconds => string.Create(CultureInfo.InvariantCulture, $"fresh ({stale:0.0} s)"),
                _ => string.Create(CultureInfo.InvariantCulture, $"STALE ({stale:0.0} s)"),
            };
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return "metrics unreachable";
        }
    }
}
