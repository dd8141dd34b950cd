using Bulwark.Discovery.Etcd.Deployment;
using Bulwark.Platform.Hosting;

namespace Bulwark.Lab.Cluster;

/// <summary>How to start the bulwark binary: the program and the arguments before the command (<c>dotnet bulwark.dll</c>, or the binary itself).</summary>
public sealed record BulwarkBinary(string File, IReadOnlyList<string> Prefix);

/// <summary>
/// The services of a local cluster as <c>bulwark serve</c> processes of one binary. Every
/// instance of a service shares the service's data directory (<c>STATE/data/SERVICE</c>: its
/// SQLite file, keys such as the edge's signing key, the discovery snapshot), except for services
/// whose instances each keep a journal (<c>STATE/data/INSTANCE</c>), and writes its own log
/// (<c>STATE/logs/INSTANCE.log</c>). What services exist comes from the caller's module list.
/// </summary>
public sealed class LocalServices(string stateDirectory, ClusterState state, IReadOnlyList<IServiceModule> modules, BulwarkBinary binary) : IDeploymentTarget
{
    /// <summary>The environment variable a stateful service reads its PostgreSQL URL from.</summary>
    public const string StoreVariable = ClusterState.StoreVariable;

    /// <summary>The environment variable a ledger cell reads the event log's NATS servers from (<c>nats://...,nats://...</c>).</summary>
    public const string EventLogVariable = Bulwark.EventLog.JetStream.EventLogAddress.Variable;

    /// <summary>
    /// The environment variable the coherence checker reads the app API's addresses from
    /// (Bulwark.Coherence CoherenceOptions.AppApiVariable; the lab does not reference the checker).
    /// </summary>
    public const string CoherenceAppApiVariable = "BULWARK_COHERENCE_APP_URL";

    /// <summary>How long an instance has after SIGTERM to deregister, drain and exit before SIGKILL.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    /// <summary>The module of <paramref name="service"/>, or null.</summary>
    public IServiceModule? Find(string service) => modules.FirstOrDefault(module => module.Name == service);

    /// <summary>The edge's public port for the next edge instance (the first one gets the preferred port).</summary>
    public int? PreferredEdgePort { get; set; }

    public IReadOnlyList<DeployedInstance> Instances(string service) =>
        [.. state.Instances.Where(i => i.Service == service).Select(ToDeployed)];

    public Task<DeployedInstance> StartAsync(string service, string version, CancellationToken cancellationToken)
    {
        var instance = Start(service, version);
        return Task.FromResult(ToDeployed(instance));
    }

    public bool HasExited(DeployedInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var found = state.Instances.FirstOrDefault(i => i.Id == instance.Id);
        return found is null || !LocalProcesses.IsRunning(found.Pid, stateDirectory);
    }

    public async Task StopAsync(DeployedInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var found = state.Instances.FirstOrDefault(i => i.Id == instance.Id);
        if (found is not null)
        {
            await StopAsync(found, cancellationToken);
        }
    }

    /// <summary>Starts one instance and records it in the state file at once (so <c>down</c> finds it whatever happens next).</summary>
    public InstanceState Start(string service, string version)
    {
        var module = Find(service) ?? throw new ClusterException($"unknown service '{service}'. Known services: {string.Join(", ", modules.Select(m => m.Name))}.");
        int? publicPort = null;
        if (module.Listeners.HasFlag(ServiceListeners.Public))
        {
            publicPort = PreferredEdgePort is { } preferred && LocalProcesses.IsPortFree(preferred) ? preferred : LocalProcesses.FreePort();
            PreferredEdgePort = null;
        }
        var instance = new InstanceState
        {
            Id = $"{service}-{state.NextInstanceNumber}",
            Service = service,
            Version = version,
            Port = LocalProcesses.FreePort(),
            PublicPort = publicPort,
            StaffPort = module.Listeners.HasFlag(ServiceListeners.Staff) ? LocalProcesses.FreePort() : null,
            OperatorPort = module.Listeners.HasFlag(ServiceListeners.Staff) ? LocalProcesses.FreePort() : null,
            LinkPort = module.Listeners.HasFlag(ServiceListeners.CardLink) ? LocalProcesses.FreePort() : null,
            Cell = NextCell(service),
        };
        state.NextInstanceNumber++;
        instance.Pid = Launch(instance);
        instance.StartedAt = DateTimeOffset.UtcNow;
        state.Instances.Add(instance);
        state.Save(stateDirectory);
        return instance;
    }

    /// <summary>
    /// The cell a new instance of <paramref name="service"/> serves: the first of its cells with
    /// the fewest instances (after a stop, the cell that lost one: a deploy's recreate and its
    /// rollback start the same cell again), never one the operator stopped alone; null for a
    /// service without cells.
    /// </summary>
    private string? NextCell(string service)
    {
        if (state.Service(service) is not { Cells: { Count: > 0 } cells } desired)
        {
            return null;
        }
        return cells.Where(cell => desired.ReplicasOf(cell) > 0).OrderBy(cell => state.Instances.Count(i => i.Service == service && i.Cell == cell)).FirstOrDefault()
            ?? throw new ClusterException($"every cell of {service} is stopped (bulwark scale {service}-CELL N starts one).");
    }

    /// <summary>
    /// Starts a process for <paramref name="instance"/> on its own ports and data directory (a
    /// restart looks to its callers like the same instance coming back); returns its PID.
    /// Needs nothing from etcd: the supervisor restarts instances while etcd is away.
    /// </summary>
    public int Launch(InstanceState instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var module = Find(instance.Service) ?? throw new ClusterException($"unknown service '{instance.Service}'.");
        List<string> arguments =
        [
            .. binary.Prefix, "serve", "--service", instance.Service, "--registry", state.RegistryAddress,
            "--data", DataDirectory(instance),
            "--port", instance.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--version-label", instance.Version,
        ];
        if (instance.PublicPort is { } port)
        {
            arguments.AddRange(["--public-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        if (instance.StaffPort is { } staffPort)
        {
            arguments.AddRange(["--staff-port", staffPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        if (instance.OperatorPort is { } operatorPort)
        {
            arguments.AddRange(["--operator-port", operatorPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        if (instance.LinkPort is { } linkPort)
        {
            arguments.AddRange(["--card-link-port", linkPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        if (instance.Cell is { } cell)
        {
            arguments.AddRange(["--cell", cell]);
        }
        // The store URL goes in the environment, never on the command line: every user of the
        // machine can read a command line (ps), only the owner a process's environment. Set
        // empty otherwise, so that an operator's own BULWARK_STORE never reaches a SQLite cluster.
        var store = "";
        if (module.Stateful && state.OnPostgres)
        {
            store = state.StoreUrl ?? throw new ClusterException(
                $"the password of {state.Store} is not in {Path.Combine(stateDirectory, ClusterState.StoreUrlFileName)}: set {StoreVariable} to the full URL and retry.");
        }
        // The event log's servers go to the ledger's cells (they publish every change); empty
        // otherwise, so that an operator's own variable never points a process elsewhere.
        var environment = new Dictionary<string, string>
        {
            [StoreVariable] = store,
            [EventLogVariable] = instance.Cell is not null ? state.EventLogAddress ?? "" : "",
            // The edges started so far, as customers reach them: the coherence checker reads its
            // synthetic writes back through them (cluster up starts the edges before the checker).
            [CoherenceAppApiVariable] = string.Join(',', state.Instances.Where(i => i.PublicPort is not null)
                .Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"http://127.0.0.1:{i.PublicPort}/"))),
        };
        return LocalProcesses.StartDetached(binary.File, arguments, LogPath(instance), environment);
    }

    /// <summary>
    /// <c>STATE/data/SERVICE</c>, shared by a service's instances (its SQLite file, keys, the
    /// discovery snapshot), or <c>STATE/data/INSTANCE</c> for a service whose instances each keep
    /// a journal of their own (cards).
    /// </summary>
    public string DataDirectory(InstanceState instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var module = Find(instance.Service);
        return Path.Combine(stateDirectory, "data", module?.DataPerInstance == true ? instance.Id : instance.Service);
    }

    public async Task<string> StopAsync(InstanceState instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var how = await LocalProcesses.StopAsync(instance.Pid, stateDirectory, StopGrace, cancellationToken);
        state.Instances.Remove(instance);
        state.Save(stateDirectory);
        return how;
    }

    public string LogPath(InstanceState instance) => Path.Combine(stateDirectory, "logs", $"{instance.Id}.log");

    /// <summary>Why an instance did not become healthy: the gate's reason, the log's last line (a crash says why there), the log's path.</summary>
    public string Explain(InstanceState instance, string failure)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var path = LogPath(instance);
        var last = LastLogLine(instance);
        return last is null ? $"{failure}; see {path}" : $"{failure} (its last log line: {last}); see {path}";
    }

    /// <summary>
    /// The last non-empty line of an instance's log (a process that exits says why there last), read
    /// from the log's end and cut to <see cref="LogLineCharsMax"/> characters; null when there is none.
    /// </summary>
    public string? LastLogLine(InstanceState instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        try
        {
            using var log = new FileStream(LogPath(instance), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var tail = new byte[(int)Math.Min(log.Length, LogTailBytes)];
            log.Seek(-tail.Length, SeekOrigin.End);
            log.ReadExactly(tail);
            var last = System.Text.Encoding.UTF8.GetString(tail).Split('\n').LastOrDefault(line => !string.IsNullOrWhiteSpace(line))?.Trim();
            return last is { Length: > LogLineCharsMax } ? string.Concat(last.AsSpan(0, LogLineCharsMax), "…") : last;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // No log (never started, removed): the caller says where to look.
            return null;
        }
    }

    /// <summary>How much of a log's end <see cref="LastLogLine"/> reads.</summary>
    public const int LogTailBytes = 8 * 1024;

    /// <summary>How long a log line quoted in a status or a restart reason may be.</summary>
    public const int LogLineCharsMax = 400;

    public DeployedInstance ToDeployed(InstanceState instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return new(instance.Id, instance.Version, instance.Address, Registers: Find(instance.Service)?.Registers ?? true, RegisteredAs: instance.RegisteredAs);
    }
}
