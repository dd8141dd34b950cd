using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Bulwark.Cli.Cluster;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Deployment;
using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Lab.Cluster;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark cluster up|status|down</c>: a local multi-process cluster on loopback — etcd members
/// and every service as detached <c>bulwark serve</c> processes of this binary, with the state
/// directory holding data, logs and the PIDs (<c>cluster.json</c>). The operating commands on a
/// running cluster (scale, deploy, rollback, etcd membership) are in <see cref="ClusterOperations"/>.
/// </summary>
internal static class ClusterCommand
{
    public const string StateDirectoryDefault = ".bulwark/cluster";
    private const int EtcdMembersMax = 9;

    public static Option<DirectoryInfo> StateOption() => new("--state")
    {
        Description = "Directory holding the cluster's data, logs and PIDs.",
        DefaultValueFactory = _ => new DirectoryInfo(StateDirectoryDefault),
    };

    public static Command Create()
    {
        var command = new Command("cluster", "A local multi-process cluster on loopback: etcd members and one process per service instance.");
        command.Subcommands.Add(CreateUp());
        command.Subcommands.Add(CreateStatus());
        command.Subcommands.Add(CreateDown());
        command.Subcommands.Add(CreateSupervise());
        return command;
    }

    /// <summary>
    /// <c>cluster supervise</c>: the supervisor, started detached by <c>cluster up</c> (an operator
    /// runs it by hand only to bring back a supervisor that was killed). Logs to STATE/logs/supervisor.log.
    /// </summary>
    private static Command CreateSupervise()
    {
        var state = StateOption();
        var command = new Command("supervise", "Restart the cluster's service instances that exit or stop answering (started by cluster up; stops when the cluster is taken down).") { state };
        command.SetAction((parse, cancellationToken) => Guard("cluster supervise", async () =>
        {
            var directory = Path.GetFullPath(parse.GetValue(state)!.FullName);
            if (ClusterState.Load(directory) is null)
            {
                throw new ClusterException($"no cluster in {directory} (start one with: bulwark cluster up --state {directory}).");
            }
            using var loggers = LoggerFactory.Create(logging => logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss.fff ";
                console.UseUtcTimestamp = true;
            }));
            await new ClusterSupervisor(directory, state => ClusterServices.Create(directory, state), loggers.CreateLogger("Bulwark.Supervisor"), TimeProvider.System).RunAsync(cancellationToken);
            return 0;
        }));
        return command;
    }

    /// <summary>How long the scheme has after SIGTERM to drain its store-and-forward queue and write its summary.</summary>
    private static readonly TimeSpan SchemeStopGrace = TimeSpan.FromSeconds(20);

    /// <summary>Starts the supervisor detached and records its PID (the caller holds the state lock and saves).</summary>
    internal static void StartSupervisor(string directory, ClusterState state)
    {
        var binary = ClusterServices.Binary();
        state.SupervisorPid = LocalProcesses.StartDetached(binary.File, [.. binary.Prefix, "cluster", "supervise", "--state", directory], Path.Combine(directory, "logs", "supervisor.log"));
    }

    /// <summary>Stops the supervisor first, so that nothing is restarted while the cluster goes down.</summary>
    internal static async Task<string> StopSupervisorAsync(string directory, ClusterState state, CancellationToken cancellationToken)
    {
        var how = await LocalProcesses.StopAsync(state.SupervisorPid, directory, TimeSpan.FromSeconds(5), cancellationToken);
        state.SupervisorPid = 0;
        return how;
    }

    private static Command CreateUp()
    {
        var state = StateOption();
        var members = CommonOptions.PositiveInt("--etcd-members", "etcd members to start.", 3, EtcdMembersMax);
        var replicas = new Option<string?>("--replicas")
        {
            Description = $"Instances per service, e.g. feed=3,edge=2 (defaults: {string.Join(", ", Bulwark.Cli.Hosting.BankModules.All.Select(s => $"{s.Name}={s.ReplicasDefault}"))}).",
        };
        var edgePort = new Option<int>("--edge-port") { Description = "Public HTTP port of the first edge instance on 127.0.0.1 (0: any free port).", DefaultValueFactory = _ => RunCommand.PortDefault };
        var version = new Option<string>("--version-label") { Description = "Version label every instance starts with.", DefaultValueFactory = _ => "v1" };
        var store = new Option<string?>("--store")
        {
            Description = "Keep the ledger's and the accounts' data in PostgreSQL: 'postgres' runs a server of the cluster's own (data in STATE/data/postgres, kept across down and up), or postgres://user[:password]@host[:port]/database for one you run (a password reaches the services through their environment, never their command line, and is kept in STATE/store-url, mode 0600, not in cluster.json). Default: the " + CommonOptions.StoreVariable + " environment variable (which keeps a password off this command's own command line), else SQLite.",
        };
        store.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } url && url != LocalPostgres.Managed)
            {
                try
                {
                    Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url);
                }
                catch (FormatException error)
                {
                    result.AddError($"--store: {error.Message} (or 'postgres' for a server of the cluster's own)");
                }
            }
        });
        var customers = Operator.ClusterDemoCustomers.CreateOption();
        var cardRate = new Option<int>("--card-rate")
        {
            Description = $"Card authorisations per second the card scheme simulator (its own process, outside the bank) sends to every card link instance, once demo customers exist (0: no scheme; at most {CardRateMax:N0}). Default {CardRateDefault}.",
            DefaultValueFactory = _ => CardRateDefault,
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= CardRateMax)
                {
                    return value;
                }
                result.AddError($"--card-rate must be a whole number from 0 to {CardRateMax:N0}, not '{text}'.");
                return 0;
            },
        };
        var cells = new Option<int?>("--cells")
        {
            Description = $"Ledger cells of a new cluster (1 to {ClusterPlacement.CellsMax}; default {ClusterPlacement.CellsDefault}): cells a, b, ..., each its own ledger process and store (SQLite ledger.db, ledger-b.db, ... in STATE/data/ledger; on PostgreSQL the store's database for cell a and DATABASE_ledger_NAME for the others). The placement map is made at the first up and kept in STATE/placement.json: an existing cluster keeps its cells, and a --cells that disagrees is refused.",
        };
        cells.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } count && count is < 1 or > ClusterPlacement.CellsMax)
            {
                result.AddError($"--cells must be 1 to {ClusterPlacement.CellsMax}, got {count}.");
            }
        });
        var natsServers = new Option<int>("--nats-servers")
        {
            Description = $"nats-server processes of the event log (JetStream, routed as one cluster; the bank's stream gets min(3, N) replicas), 0 to {LocalNats.ServersMax}; 0 runs none (small test clusters). Default {LocalNats.ServersDefault}. Their data stays in STATE/data/nats across down and up.",
            DefaultValueFactory = _ => LocalNats.ServersDefault,
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= LocalNats.ServersMax)
                {
                    return value;
                }
                result.AddError($"--nats-servers must be a whole number from 0 to {LocalNats.ServersMax}, not '{text}'.");
                return 0;
            },
        };
        var command = new Command("up", "Start etcd, the event log's NATS servers and the services, wait until every instance is healthy, print where the edge listens.")
        {
            state, members, natsServers, replicas, edgePort, version, store, customers, cardRate, cells,
        };
        command.SetAction((parse, cancellationToken) => Guard("cluster up", async () =>
        {
            var directory = Path.GetFullPath(parse.GetValue(state)!.FullName);
            var up = await UpAsync(directory, parse.GetValue(members), parse.GetValue(natsServers), parse.GetValue(replicas),
                parse.GetValue(edgePort), parse.GetValue(version)!, parse.GetValue(store), parse.GetValue(cells), cancellationToken);
            // The demo staff member operator commands log in as, then demo customers, once every instance is healthy.
            if (up == 0)
            {
                up = await Operator.ClusterDemoStaff.EnsureAsync(directory, Console.Out, cancellationToken);
            }
            var seeded = up == 0 && parse.GetValue(customers) > 0
                ? await Operator.ClusterDemoCustomers.SeedAsync(directory, parse.GetValue(customers), Console.Out, cancellationToken)
                : up;
            return seeded == 0 && parse.GetValue(cardRate) > 0 ? await StartSchemeAsync(directory, parse.GetValue(cardRate), cancellationToken) : seeded;
        }));
        return command;
    }

    public const int CardRateDefault = 10;
    public const int CardRateMax = 5_000;

    /// <summary>
    /// Starts the card scheme simulator against every card link (it reads STATE/card-links, so
    /// instances that come and go are followed) with the cards of the demo population; none when
    /// no customers were ever seeded, or no cards instance runs.
    /// </summary>
    private static async Task<int> StartSchemeAsync(string directory, int rate, CancellationToken cancellationToken)
    {
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = ClusterState.Load(directory) ?? throw new ClusterException($"no cluster in {directory}.");
        var population = SchemeState.PopulationPath(directory);
        if (!File.Exists(population) || !state.Instances.Any(i => i.LinkPort is not null))
        {
            await Console.Out.WriteLineAsync(File.Exists(population)
                ? "scheme: no cards instance runs, so no card traffic (scale cards up, then cluster down and up)."
                : "scheme: no demo customers (their cards are the scheme's), so no card traffic; start with --customers N for it.");
            return 0;
        }
        var binary = ClusterServices.Binary();
        var clearing = Path.Combine(SchemeState.DirectoryIn(directory), "clearing");
        var pid = LocalProcesses.StartDetached(binary.File,
            [.. binary.Prefix, "scheme", "run", "--links-file", Path.Combine(directory, ClusterState.CardLinksFileName),
                "--population", population, "--rate", rate.ToString(CultureInfo.InvariantCulture), "--clearing", clearing],
            SchemeState.LogPath(directory));
        state.Scheme = new SchemeState { Pid = pid, Rate = rate };
        state.Save(directory);
        await Console.Out.WriteLineAsync($"scheme: pid {pid} sends {rate} card authorisations/s to every card link (log {SchemeState.LogPath(directory)}, clearing files in {clearing})");
        return 0;
    }

    private static Command CreateStatus()
    {
        var state = StateOption();
        var command = new Command("status", "Show etcd members, each service's instances, health, version and discovery freshness; exit code 1 when anything is unhealthy.") { state };
        command.SetAction((parse, cancellationToken) => Guard("cluster status", async () =>
        {
            var directory = Path.GetFullPath(parse.GetValue(state)!.FullName);
            var current = ClusterState.Load(directory) ?? throw new ClusterException($"no cluster in {directory} (start one with: bulwark cluster up --state {directory}).");
            var (report, allHealthy) = await ClusterStatus.ReportAsync(directory, current, cancellationToken);
            await Console.Out.WriteAsync(report);
            // Scripts can wait on it: 0 when every member and instance is healthy, 1 when not.
            return allHealthy ? 0 : 1;
        }));
        return command;
    }

    private static Command CreateDown()
    {
        var state = StateOption();
        var command = new Command("down", "Stop every process the cluster started (SIGTERM, then SIGKILL after a bound); data and logs stay.") { state };
        command.SetAction((parse, cancellationToken) => Guard("cluster down", () => DownAsync(Path.GetFullPath(parse.GetValue(state)!.FullName), cancellationToken)));
        return command;
    }

    /// <summary>Runs a command body; operating errors print one line and exit 2.</summary>
    internal static async Task<int> Guard(string name, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (ClusterException exception)
        {
            await Console.Error.WriteLineAsync($"bulwark {name}: {exception.Message}");
            return 2;
        }
        catch (EtcdUnavailableException exception)
        {
            await Console.Error.WriteLineAsync($"bulwark {name}: etcd unreachable: {exception.Message}");
            return 2;
        }
        catch (Exception exception) when (exception is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
        {
            // Ctrl-C or SIGTERM: what was started stays listed in the state file (cluster down stops it).
            await Console.Error.WriteLineAsync($"bulwark {name}: interrupted.");
            return 130;
        }
    }

    private static async Task<int> UpAsync(string directory, int memberCount, int natsCount, string? replicasText, int edgePort, string version, string? store, int? cells, CancellationToken cancellationToken)
    {
        store ??= StoreFromEnvironment();
        var replicas = ParseReplicas(replicasText, onPostgres: store is not null);
        if (edgePort is < 0 or > 65_535)
        {
            throw new ClusterException($"--edge-port must be 0-65535, got {edgePort}.");
        }
        if (edgePort > 0 && !LocalProcesses.IsPortFree(edgePort))
        {
            throw new ClusterException($"port {edgePort} is in use on 127.0.0.1 (bulwark run?); choose another with --edge-port, or 0 for any free port.");
        }
        LocalEtcd.RequireBinary();
        if (natsCount > 0)
        {
            LocalNats.RequireBinary();
        }
        // The cells an existing cluster has are checked before anything starts.
        await ClusterPlacement.ReadKeptAsync(directory, cells, cancellationToken);
        var clock = Stopwatch.StartNew();
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        if (ClusterState.Load(directory) is { } existing)
        {
            var running = existing.Members.Count(m => LocalProcesses.IsRunning(m.Pid, directory)) + existing.Instances.Count(i => LocalProcesses.IsRunning(i.Pid, directory))
                + existing.NatsServers.Count(n => LocalProcesses.IsRunning(n.Pid, directory))
                + (LocalProcesses.IsRunning(existing.SupervisorPid, directory) ? 1 : 0)
                + (existing.Scheme is { } scheme && LocalProcesses.IsRunning(scheme.Pid, directory) ? 1 : 0)
                + (existing.Postgres is { } postgres && LocalProcesses.IsRunning(postgres.Pid, directory) ? 1 : 0);
            if (running > 0)
            {
                throw new ClusterException($"a cluster is already up in {directory} ({running} processes running); stop it first with: bulwark cluster down --state {directory}");
            }
        }
        // etcd always starts as a new cluster on new ports: a member directory left by an earlier
        // cluster (down keeps data) would join with the old cluster's identity and never agree.
        foreach (var stale in Directory.Exists(Path.Combine(directory, "data")) ? Directory.GetDirectories(Path.Combine(directory, "data"), "etcd-*") : [])
        {
            LocalEtcd.TryDelete(stale);
        }

        var state = new ClusterState { EtcdToken = $"bulwark-{Guid.NewGuid():N}", StartedAt = DateTimeOffset.UtcNow };
        state.UseStore(store ?? "sqlite");
        for (var i = 0; i < memberCount; i++)
        {
            state.Members.Add(LocalEtcd.NewMember(state));
        }
        var initialCluster = string.Join(",", state.Members.Select(m => $"{m.Name}={m.PeerUrl}"));
        foreach (var member in state.Members)
        {
            LocalEtcd.Launch(directory, state, member, initialCluster, "new");
        }
        state.Save(directory);
        try
        {
            foreach (var member in state.Members)
            {
                await LocalEtcd.WaitHealthyAsync(directory, member, cancellationToken);
            }
            await Console.Out.WriteLineAsync($"etcd: {state.Members.Count} member(s) healthy at {state.RegistryAddress} ({clock.Elapsed.TotalSeconds:0.0} s)");
            if (store == LocalPostgres.Managed)
            {
                state.Postgres = await LocalPostgres.StartAsync(directory, cancellationToken);
                state.UseStore(LocalPostgres.Url(state.Postgres.Port));
                state.Save(directory);
                await Console.Out.WriteLineAsync($"postgres: {state.Store} (pid {state.Postgres.Pid}, data in {LocalPostgres.DataDirectory(directory)})");
            }
            await StartNatsAsync(directory, state, natsCount, clock, cancellationToken);
            var map = await ClusterPlacement.EnsureAsync(directory, state, cells, cancellationToken);
            await Console.Out.WriteLineAsync($"placement: {map.Cells.Count} ledger cell(s) ({string.Join(", ", map.Cells.Keys.Order(StringComparer.Ordinal).Select(cell => $"{cell}: {map.PartitionsOf(cell).Count} partitions"))}), map version {map.Version} in etcd, kept in {ClusterPlacement.PathIn(directory)}");
            await StartServicesAsync(directory, state, replicas, edgePort, version, [.. map.Cells.Keys.Order(StringComparer.Ordinal)], cancellationToken);
            await ClusterPlacement.KeepBirthsAsync(directory, map, state, cancellationToken);
        }
        catch (Exception exception) when (exception is ClusterException or EtcdUnavailableException)
        {
            await Console.Error.WriteLineAsync($"bulwark cluster up: {exception.Message}; stopping what was started.");
            await StopAllAsync(directory, state, CancellationToken.None);
            return 2;
        }
        catch (Exception exception) when (cancellationToken.IsCancellationRequested && exception is OperationCanceledException or Grpc.Core.RpcException)
        {
            // Ctrl-C or SIGTERM while starting: a half-started cluster is worse than none.
            await Console.Error.WriteLineAsync("bulwark cluster up: interrupted; stopping what was started.");
            await StopAllAsync(directory, state, CancellationToken.None);
            return 130;
        }
        StartSupervisor(directory, state);
        state.Save(directory);
        await Console.Out.WriteLineAsync($"supervisor: pid {state.SupervisorPid} restarts instances that exit or hang (log {Path.Combine(directory, "logs", "supervisor.log")})");
        await Console.Out.WriteLineAsync($"cluster up in {clock.Elapsed.TotalSeconds:0.0} s; state, logs and data in {directory}");
        foreach (var edge in state.Instances.Where(i => i.PublicPort is not null))
        {
            await Console.Out.WriteLineAsync($"edge (app API and web UI) listening on http://127.0.0.1:{edge.PublicPort}/");
        }
        foreach (var staffEdge in state.Instances.Where(i => i.StaffPort is not null))
        {
            await Console.Out.WriteLineAsync($"staff edge (console, ops view, staff API) listening on http://127.0.0.1:{staffEdge.StaffPort}/staff/");
            if (staffEdge.OperatorPort is { } operatorPort)
            {
                await Console.Out.WriteLineAsync($"operator gateway (bulwark staff login, then operator commands with --reason) listening on http://127.0.0.1:{operatorPort} (HTTP/2)");
            }
        }
        await Console.Out.WriteLineAsync($"next: bulwark cluster status --state {directory}");
        return 0;
    }

    /// <summary>
    /// Starts the event log's NATS servers on their data of any earlier up (their names, so their
    /// JetStream identities, are fixed), waits until each is healthy, then creates the bank's
    /// stream — or finds it with its records — before any cell runs.
    /// </summary>
    private static async Task StartNatsAsync(string directory, ClusterState state, int count, Stopwatch clock, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            return;
        }
        state.NatsServers.AddRange(LocalNats.NewServers(count));
        foreach (var server in state.NatsServers)
        {
            LocalNats.Launch(directory, state, server);
        }
        state.Save(directory);
        foreach (var server in state.NatsServers)
        {
            await LocalNats.WaitHealthyAsync(directory, server, cancellationToken);
        }
        var stream = await LocalNats.EnsureStreamAsync(state, cancellationToken);
        await Console.Out.WriteLineAsync($"nats: {count} server(s) healthy at {state.EventLogAddress}, stream {stream.Stream} with {stream.Replicas} replica(s) (data in {Path.Combine(directory, "data", "nats")}, {clock.Elapsed.TotalSeconds:0.0} s)");
    }

    private static async Task StartServicesAsync(string directory, ClusterState state, Dictionary<string, int> replicas, int edgePort, string version, List<string> cells, CancellationToken cancellationToken)
    {
        await using var registry = await ClusterOperations.ConnectRegistryAsync(state, cancellationToken);
        var services = ClusterServices.Create(directory, state);
        services.PreferredEdgePort = edgePort > 0 ? edgePort : null;
        var gate = new RollingDeployment(registry, services, new RollingDeploymentOptions { SettleSeconds = 0 }, NullLogger.Instance);
        foreach (var module in Bulwark.Cli.Hosting.BankModules.All)
        {
            var name = module.Name;
            var count = replicas.GetValueOrDefault(name, ReplicasDefault(module, state.OnPostgres));
            var desired = new ServiceState { Name = name, Replicas = count, Version = version, Cells = name == Bulwark.Cli.Hosting.BankModules.Ledger ? cells : null };
            state.Services.Add(desired);
            await ClusterOperations.SetDeploymentRecordsAsync(registry, desired, cancellationToken);
        }
        state.Save(directory);
        // Every instance starts at once: a service does not need its callees to start (calls
        // wait for discovery), and on a small machine one start-up at a time is what takes long.
        var started = state.Services.SelectMany(service => Enumerable.Range(0, service.InstancesWanted).Select(_ => services.Start(service.Name, version))).ToList();
        foreach (var instance in started)
        {
            var failure = await gate.WaitHealthyAsync(instance.Service, services.ToDeployed(instance), cancellationToken);
            if (failure is not null)
            {
                throw new ClusterException(services.Explain(instance, failure));
            }
        }
        foreach (var service in state.Services)
        {
            var addresses = started.Where(i => i.Service == service.Name).Select(i => i.Cell is null ? i.Address : $"cell {i.Cell} {i.Address}").ToList();
            await Console.Out.WriteLineAsync($"{service.Name}: {addresses.Count} instance(s) healthy{(addresses.Count > 0 ? $" ({string.Join(", ", addresses)})" : "")}");
        }
    }

    /// <summary>
    /// A service's default instance count: its module's, except that the accounts run two on
    /// PostgreSQL (no single instance is needed for payments while one restarts; on SQLite one
    /// process owns the file, so one).
    /// </summary>
    internal static int ReplicasDefault(Bulwark.Platform.Hosting.IServiceModule module, bool onPostgres) =>
        module.Name == Bulwark.Cli.Hosting.BankModules.Accounts && onPostgres ? 2 : module.ReplicasDefault;

    /// <summary>The store URL in <see cref="CommonOptions.StoreVariable"/> (empty counts as absent), checked like <c>--store</c>; null for none.</summary>
    private static string? StoreFromEnvironment()
    {
        var url = Environment.GetEnvironmentVariable(CommonOptions.StoreVariable);
        if (string.IsNullOrEmpty(url) || url == LocalPostgres.Managed)
        {
            return string.IsNullOrEmpty(url) ? null : url;
        }
        try
        {
            Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url);
            return url;
        }
        catch (FormatException error)
        {
            throw new ClusterException($"{CommonOptions.StoreVariable}: {error.Message} (or 'postgres' for a server of the cluster's own)");
        }
    }

    /// <summary>Parses <c>feed=3,edge=2</c>: known services, 0 or more, within what each service's store allows.</summary>
    internal static Dictionary<string, int> ParseReplicas(string? text, bool onPostgres)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(text))
        {
            return result;
        }
        foreach (var pair in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || !int.TryParse(pair.AsSpan(equals + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count))
            {
                throw new ClusterException($"--replicas: '{pair}' is not SERVICE=COUNT, as in feed=3,edge=2.");
            }
            var service = pair[..equals];
            ClusterOperations.CheckReplicas(service, count, onPostgres);
            result[service] = count;
        }
        return result;
    }

    private static async Task<int> DownAsync(string directory, CancellationToken cancellationToken)
    {
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = ClusterState.Load(directory);
        if (state is null)
        {
            await Console.Out.WriteLineAsync($"no cluster in {directory}: nothing to stop.");
            return 0;
        }
        var clock = Stopwatch.StartNew();
        // Read before etcd stops, said after: the supervisor is stopped first, and says so first.
        var (kept, unanswered) = await ClusterPlacement.KeepAsync(directory, state, cancellationToken);
        await StopAllAsync(directory, state, cancellationToken);
        if (kept is not null)
        {
            await Console.Out.WriteLineAsync($"placement map version {kept.Version} ({kept.Cells.Count} ledger cell(s)) kept in {ClusterPlacement.PathIn(directory)}");
        }
        else if (unanswered is not null)
        {
            await ClusterPlacement.WarnKeptMapUsedAsync(directory, unanswered);
        }
        File.Delete(ClusterState.PathIn(directory));
        ClusterState.DeleteStoreUrl(directory);
        await Console.Out.WriteLineAsync($"cluster down in {clock.Elapsed.TotalSeconds:0.0} s; data and logs kept in {directory}");
        return 0;
    }

    /// <summary>
    /// Stops every service instance at once (each deregisters first, then drains: nothing routes
    /// to an instance that is going), then PostgreSQL and the NATS servers, then etcd, followers
    /// before the leader; every process by its PID.
    /// </summary>
    private static async Task StopAllAsync(string directory, ClusterState state, CancellationToken cancellationToken)
    {
        if (state.SupervisorPid != 0)
        {
            var pid = state.SupervisorPid;
            await Console.Out.WriteLineAsync($"supervisor (pid {pid}): {await StopSupervisorAsync(directory, state, cancellationToken)}");
        }
        if (state.Scheme is { } scheme)
        {
            // The scheme first among the rest: it drains its advices and reversals, then writes its summary and clearing file.
            await Console.Out.WriteLineAsync($"scheme (pid {scheme.Pid}): {await LocalProcesses.StopAsync(scheme.Pid, directory, SchemeStopGrace, cancellationToken)}");
            state.Scheme = null;
        }
        var results = await Task.WhenAll(state.Instances.Select(async i =>
            (i.Id, i.Pid, How: await LocalProcesses.StopAsync(i.Pid, directory, LocalServices.StopGrace, cancellationToken))));
        foreach (var (id, pid, how) in results)
        {
            await Console.Out.WriteLineAsync($"{id} (pid {pid}): {how}");
        }
        state.Instances.Clear();
        if (state.Postgres is { } postgres)
        {
            await Console.Out.WriteLineAsync($"postgres (pid {postgres.Pid}): {await LocalPostgres.StopAsync(directory, postgres, cancellationToken)}");
        }
        // After the services (a relay publishing to them stops first), all at once: the stream's
        // data is on disk with every acknowledged record, whatever order they stop in.
        foreach (var (server, how) in await Task.WhenAll(state.NatsServers.Select(async n => (n, await LocalNats.StopAsync(directory, n, cancellationToken)))))
        {
            await Console.Out.WriteLineAsync($"nats server {server.Name} (pid {server.Pid}): {how}");
        }
        foreach (var (member, how) in await LocalEtcd.StopAllAsync(directory, state.Members, cancellationToken))
        {
            await Console.Out.WriteLineAsync($"etcd member {member.Name} (pid {member.Pid}): {how}");
        }
    }
}
