using System.CommandLine;
using Bulwark.Cli.Cluster;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Deployment;
using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Lab.Cluster;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Cli.Commands;

/// <summary>
/// Operating a running local cluster: <c>bulwark scale</c>, <c>deploy</c>, <c>rollback</c> and
/// <c>etcd add-member|remove-member</c>. Each takes the state directory's lock, acts on the
/// processes listed in its state file, and keeps the deployment records in etcd in step.
/// </summary>
internal static class ClusterOperations
{
    /// <summary>
    /// Test hook (documented in docs/runbooks/deploy.md): <c>bulwark serve</c> started with a
    /// version label listed in this variable (comma-separated) never becomes ready, the way a
    /// broken release hangs at start. Deploy tests use it to prove the automatic rollback (R6).
    /// </summary>
    public const string NeverReadyVersionsVariable = "BULWARK_TEST_NEVER_READY_VERSIONS";

    public static Command CreateScale()
    {
        var service = new Argument<string>("service") { Description = $"The service: {ClusterServices.KnownServices}; or one ledger cell, ledger-CELL (0 stops that cell alone, the ledger's count starts it again)." };
        var replicas = new Argument<string>("replicas") { Description = "Instances wanted (0 or more; 0 stops every instance and tells callers the service is scaled to 0)." };
        var state = ClusterCommand.StateOption();
        var command = new Command("scale", "Set the number of instances of a service in the local cluster.") { service, replicas, state };
        command.SetAction((parse, cancellationToken) => ClusterCommand.Guard("scale", () => ScaleAsync(
            Path.GetFullPath(parse.GetValue(state)!.FullName), parse.GetValue(service)!, parse.GetValue(replicas)!, cancellationToken)));
        return command;
    }

    public static Command CreateDeploy()
    {
        var service = new Argument<string>("service") { Description = $"The service: {ClusterServices.KnownServices}." };
        var version = new Option<string>("--version") { Description = "Version label to roll out.", Required = true };
        var healthyWithin = CommonOptions.Duration("--healthy-within", "How long each new instance has to become healthy before the deploy rolls back (default 30s).");
        var state = ClusterCommand.StateOption();
        var command = new Command("deploy", "Roll a new version out one instance at a time, health-gated; rolls back by itself when a new instance fails.")
        {
            service, version, healthyWithin, state,
        };
        command.SetAction((parse, cancellationToken) => ClusterCommand.Guard("deploy", () => DeployAsync(
            Path.GetFullPath(parse.GetValue(state)!.FullName), parse.GetValue(service)!, parse.GetValue(version)!,
            parse.GetValue(healthyWithin) ?? TimeSpan.FromSeconds(30), rollback: false, cancellationToken)));
        return command;
    }

    public static Command CreateRollback()
    {
        var service = new Argument<string>("service") { Description = $"The service: {ClusterServices.KnownServices}." };
        var healthyWithin = CommonOptions.Duration("--healthy-within", "How long each instance has to become healthy (default 30s).");
        var state = ClusterCommand.StateOption();
        var command = new Command("rollback", "Roll a service back to the version it ran before its last successful deploy.") { service, healthyWithin, state };
        command.SetAction((parse, cancellationToken) => ClusterCommand.Guard("rollback", () => DeployAsync(
            Path.GetFullPath(parse.GetValue(state)!.FullName), parse.GetValue(service)!, null,
            parse.GetValue(healthyWithin) ?? TimeSpan.FromSeconds(30), rollback: true, cancellationToken)));
        return command;
    }

    public static Command CreateEtcd()
    {
        var command = new Command("etcd", "Change the local cluster's etcd membership while everything runs.");
        var addState = ClusterCommand.StateOption();
        var add = new Command("add-member", "Add one etcd member (cluster API MemberAdd, then start it with initial-cluster-state existing).") { addState };
        add.SetAction((parse, cancellationToken) => ClusterCommand.Guard("etcd add-member", () => AddMemberAsync(Path.GetFullPath(parse.GetValue(addState)!.FullName), cancellationToken)));
        var removeState = ClusterCommand.StateOption();
        var name = new Argument<string?>("name") { Description = "The member to remove (default: the newest).", Arity = ArgumentArity.ZeroOrOne };
        var remove = new Command("remove-member", "Remove one etcd member (cluster API MemberRemove), then stop its process.") { name, removeState };
        remove.SetAction((parse, cancellationToken) => ClusterCommand.Guard("etcd remove-member", () => RemoveMemberAsync(
            Path.GetFullPath(parse.GetValue(removeState)!.FullName), parse.GetValue(name), cancellationToken)));
        command.Subcommands.Add(add);
        command.Subcommands.Add(remove);
        return command;
    }

    /// <summary>Refuses unknown services, negative counts, and more instances than the service's store allows.</summary>
    public static void CheckReplicas(string service, int replicas, bool onPostgres)
    {
        CheckService(service);
        if (replicas < 0)
        {
            throw new ClusterException($"replicas must be 0 or more, got {replicas} for {service}.");
        }
        var max = ClusterServices.ReplicasMax(service, onPostgres);
        if (replicas > max && max == 1)
        {
            throw new ClusterException(onPostgres
                ? $"{service} has one writer (fenced by epoch): it runs 0 or 1 instance, got {replicas}."
                : $"{service} keeps its data in SQLite, which one process writes: it runs 0 or 1 instance, got {replicas} (accounts can run more with --store postgres://...).");
        }
        if (replicas > max)
        {
            throw new ClusterException($"at most {max} instances of a service on one machine, got {replicas} for {service}.");
        }
    }

    public static void CheckService(string service)
    {
        if (!ClusterServices.IsKnown(service))
        {
            throw new ClusterException($"unknown service '{service}'. Known services: {ClusterServices.KnownServices}.");
        }
    }

    /// <summary>
    /// The service's deployment record, and for a service split into cells (the ledger) one per
    /// cell too (<c>ledger-a</c>): callers reach a cell by that name, so a cell scaled to 0 is
    /// "scaled to 0" to them (R2), not an instance they wait for.
    /// </summary>
    public static async Task SetDeploymentRecordsAsync(EtcdServiceRegistry registry, ServiceState service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(service);
        await registry.SetDeploymentAsync(service.Name, new DeploymentRecord(service.InstancesWanted, service.Version), cancellationToken);
        foreach (var cell in service.Cells ?? [])
        {
            await registry.SetDeploymentAsync(Bulwark.Platform.Placement.PlacementMap.ServiceOf(cell, service.Name), new DeploymentRecord(service.ReplicasOf(cell), service.Version), cancellationToken);
        }
    }

    public static async Task<EtcdServiceRegistry> ConnectRegistryAsync(ClusterState state, CancellationToken cancellationToken) =>
        await EtcdServiceRegistry.StartAsync(new EtcdRegistryOptions
        {
            Endpoints = [.. state.Members.Select(m => new Uri(m.ClientUrl))],
            ProcessName = "bulwark-cli",
            StartTimeoutSeconds = Operator.OperatorEtcd.TimeoutSeconds,
        }, NullLogger.Instance, cancellationToken: cancellationToken);

    private static async Task<ClusterState> LoadRunningAsync(string directory) =>
        await Task.FromResult(ClusterState.Load(directory)
            ?? throw new ClusterException($"no cluster in {directory} (start one with: bulwark cluster up --state {directory})."));

    private static async Task<int> ScaleAsync(string directory, string service, string replicasText, CancellationToken cancellationToken)
    {
        if (!int.TryParse(replicasText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var replicas))
        {
            throw new ClusterException($"replicas must be a whole number, got '{replicasText}'.");
        }
        if (CellOf(service) is { } cellOf)
        {
            return await ScaleCellAsync(directory, cellOf.Cell, replicas, cancellationToken);
        }
        // What needs no cluster is refused before looking for one; the store's limit after.
        CheckReplicas(service, Math.Min(replicas, 0), onPostgres: false);
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = await LoadRunningAsync(directory);
        CheckReplicas(service, replicas, state.OnPostgres);
        var desired = state.Service(service) ?? throw new ClusterException($"{service} is not part of the cluster in {directory}.");
        var services = ClusterServices.Create(directory, state);
        await using var registry = await ConnectRegistryAsync(state, cancellationToken);
        var current = state.Instances.Where(i => i.Service == service).ToList();
        // Every cell to the count, a cell stopped alone included.
        desired.StoppedCells = null;
        // A service split into cells runs that many instances per cell.
        var wanted = replicas * (desired.Cells?.Count ?? 1);
        if (wanted < current.Count)
        {
            // The record first: when it says 0, callers get the authoritative "scaled to 0" (R2)
            // instead of waiting for instances that will not come back.
            desired.Replicas = replicas;
            await SetDeploymentRecordsAsync(registry, desired, cancellationToken);
            foreach (var instance in current.Skip(wanted).Reverse())
            {
                var how = await services.StopAsync(instance, cancellationToken);
                await Console.Out.WriteLineAsync($"{instance.Id} (pid {instance.Pid}): {how}");
            }
        }
        else if (wanted > current.Count)
        {
            var gate = new RollingDeployment(registry, services, new RollingDeploymentOptions { SettleSeconds = 0 }, NullLogger.Instance);
            for (var i = current.Count; i < wanted; i++)
            {
                var instance = services.Start(service, desired.Version);
                var failure = await gate.WaitHealthyAsync(service, services.ToDeployed(instance), cancellationToken);
                if (failure is not null)
                {
                    await services.StopAsync(instance, cancellationToken);
                    throw new ClusterException($"{services.Explain(instance, failure)}. {service} stays at {state.Instances.Count(x => x.Service == service)} instance(s).");
                }
                await Console.Out.WriteLineAsync($"{instance.Id} healthy at {instance.Address}{(instance.Cell is null ? "" : $" (cell {instance.Cell})")}");
            }
            desired.Replicas = replicas;
            await SetDeploymentRecordsAsync(registry, desired, cancellationToken);
        }
        desired.Replicas = replicas;
        state.Save(directory);
        await Console.Out.WriteLineAsync(desired.Cells is { } cells
            ? $"{service}: {replicas} instance(s) per cell of {desired.Version} ({cells.Count} cells: {wanted} instance(s))."
            : $"{service}: {replicas} instance(s) of {desired.Version}.");
        return 0;
    }

    /// <summary>The cell a name such as <c>ledger-b</c> means (the ledger's cell b), or null for a service's own name.</summary>
    private static (string Service, string Cell)? CellOf(string name)
    {
        const string prefix = Hosting.BankModules.Ledger + "-";
        return name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length ? (Hosting.BankModules.Ledger, name[prefix.Length..]) : null;
    }

    /// <summary>
    /// <c>bulwark scale ledger-b 0|N</c>: stops one cell's ledger process(es) while the other cells
    /// run on (the cell's deployment record says 0, so its callers get "scaled to 0" rather than a
    /// timeout, and payments owed to it wait), or starts it again with as many instances as every
    /// other cell runs. Used to rebuild a cell's store from the event log (docs/runbooks/ledger-replay.md).
    /// </summary>
    private static async Task<int> ScaleCellAsync(string directory, string cell, int replicas, CancellationToken cancellationToken)
    {
        if (replicas < 0)
        {
            throw new ClusterException($"replicas must be 0 or more, got {replicas} for ledger-{cell}.");
        }
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = await LoadRunningAsync(directory);
        var ledger = state.Service(Hosting.BankModules.Ledger) ?? throw new ClusterException($"the cluster in {directory} runs no ledger.");
        if (ledger.Cells is not { } cells || !cells.Contains(cell, StringComparer.Ordinal))
        {
            throw new ClusterException($"the ledger has no cell '{cell}' (cells: {string.Join(", ", ledger.Cells ?? ["a"])}).");
        }
        if (replicas > 0 && replicas != ledger.Replicas)
        {
            throw new ClusterException(ledger.Replicas == 0
                ? $"the ledger is scaled to 0: bulwark scale ledger {replicas} starts every cell."
                : $"a cell runs as many instances as every other cell ({ledger.Replicas}): scale ledger-{cell} 0 or {ledger.Replicas}, or bulwark scale ledger N for all.");
        }
        var services = ClusterServices.Create(directory, state);
        await using var registry = await ConnectRegistryAsync(state, cancellationToken);
        var current = state.Instances.Where(i => i.Service == ledger.Name && i.Cell == cell).ToList();
        if (replicas == 0)
        {
            // The record first: callers are told the cell is scaled to 0 before its process goes.
            ledger.StoppedCells = [.. (ledger.StoppedCells ?? []).Append(cell).Distinct(StringComparer.Ordinal)];
            state.Save(directory);
            await SetDeploymentRecordsAsync(registry, ledger, cancellationToken);
            foreach (var instance in current)
            {
                var how = await services.StopAsync(instance, cancellationToken);
                await Console.Out.WriteLineAsync($"{instance.Id} (pid {instance.Pid}): {how}");
            }
            await Console.Out.WriteLineAsync($"ledger-{cell}: stopped (0 instances); the other cells run on. Start it again with: bulwark scale ledger-{cell} {ledger.Replicas}");
            return 0;
        }
        ledger.StoppedCells = ledger.StoppedCells?.Where(stopped => stopped != cell).ToList() is { Count: > 0 } still ? still : null;
        state.Save(directory);
        // The record first: while it says 0, callers would not wait for the instance coming up.
        await SetDeploymentRecordsAsync(registry, ledger, cancellationToken);
        var gate = new RollingDeployment(registry, services, new RollingDeploymentOptions { SettleSeconds = 0 }, NullLogger.Instance);
        for (var index = current.Count; index < replicas; index++)
        {
            // The cell has the fewest instances of those running, so it is the one each start serves.
            var instance = services.Start(ledger.Name, ledger.Version);
            var failure = await gate.WaitHealthyAsync(ledger.Name, services.ToDeployed(instance), cancellationToken);
            if (failure is not null)
            {
                throw new ClusterException($"cell {cell}'s ledger did not become healthy: {services.Explain(instance, failure)}. The supervisor keeps starting it; bulwark scale ledger-{cell} 0 stops it.");
            }
            await Console.Out.WriteLineAsync($"{instance.Id} healthy at {instance.Address} (cell {instance.Cell})");
        }
        await Console.Out.WriteLineAsync($"ledger-{cell}: {replicas} instance(s) of {ledger.Version}.");
        return 0;
    }

    /// <summary>
    /// Starts the ledger process(es) of a cell just added to the placement map (<c>bulwark cells
    /// add NAME --state DIR</c>): its PostgreSQL database first on a PostgreSQL cluster, then as many
    /// instances as every other cell runs, each waited for until healthy; the cluster's state and
    /// the cell's deployment record then name it, so the supervisor restarts it and <c>cluster up</c>
    /// starts it again. Nothing to do when the cluster runs the cell already. Writes one line per
    /// instance to <paramref name="output"/>.
    /// </summary>
    public static async Task StartCellAsync(string directory, string cell, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = await LoadRunningAsync(directory);
        var ledger = state.Service(Hosting.BankModules.Ledger) ?? throw new ClusterException($"the cluster in {directory} runs no ledger.");
        ledger.Cells ??= ["a"];
        if (ledger.Cells.Contains(cell, StringComparer.Ordinal))
        {
            await output.WriteLineAsync($"the cluster runs cell {cell} already.");
            return;
        }
        if (state.OnPostgres)
        {
            var url = state.StoreUrl ?? throw new ClusterException($"the password of {state.Store} is not known: set {ClusterState.StoreVariable} to the full URL and retry.");
            await Hosting.LedgerCellStores.EnsureDatabasesAsync(Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url), [cell], cancellationToken);
        }
        ledger.Cells.Add(cell);
        state.Save(directory);
        var services = ClusterServices.Create(directory, state);
        await using var registry = await ConnectRegistryAsync(state, cancellationToken);
        await SetDeploymentRecordsAsync(registry, ledger, cancellationToken);
        var gate = new RollingDeployment(registry, services, new RollingDeploymentOptions { SettleSeconds = 0 }, NullLogger.Instance);
        for (var index = 0; index < ledger.Replicas; index++)
        {
            // The new cell has the fewest instances, so it is the one each start serves.
            var instance = services.Start(ledger.Name, ledger.Version);
            var failure = await gate.WaitHealthyAsync(ledger.Name, services.ToDeployed(instance), cancellationToken);
            if (failure is not null)
            {
                throw new ClusterException($"cell {cell}'s ledger did not become healthy: {services.Explain(instance, failure)}. It stays in the map and the cluster's state (the supervisor keeps starting it); bulwark cluster status shows it.");
            }
            await output.WriteLineAsync($"{instance.Id} healthy at {instance.Address} (cell {instance.Cell})");
        }
    }

    private static async Task<int> DeployAsync(string directory, string service, string? version, TimeSpan healthyWithin, bool rollback, CancellationToken cancellationToken)
    {
        CheckService(service);
        if (version is not null && (string.IsNullOrWhiteSpace(version) || version.Length > 64 || version.Any(char.IsWhiteSpace)))
        {
            throw new ClusterException($"--version must be a label of 1-64 characters without spaces, got '{version}'.");
        }
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = await LoadRunningAsync(directory);
        var desired = state.Service(service) ?? throw new ClusterException($"{service} is not part of the cluster in {directory}.");
        if (rollback)
        {
            version = desired.PreviousVersion ?? throw new ClusterException($"{service} has no previous version to roll back to (it was never deployed since cluster up).");
        }
        await using var registry = await ConnectRegistryAsync(state, cancellationToken);
        if (desired.Replicas == 0 || !state.Instances.Any(i => i.Service == service))
        {
            await registry.SetDeploymentAsync(service, new DeploymentRecord(desired.Replicas, version), cancellationToken);
            (desired.PreviousVersion, desired.Version) = (desired.Version, version!);
            state.Save(directory);
            await Console.Out.WriteLineAsync($"{service} has no instances: {version} recorded; it starts when the service is scaled up.");
            return 0;
        }
        using var loggerFactory = LoggerFactory.Create(logging => logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
            console.UseUtcTimestamp = true;
        }).SetMinimumLevel(LogLevel.Information));
        var services = ClusterServices.Create(directory, state);
        var deployment = new RollingDeployment(registry, services, new RollingDeploymentOptions { HealthyWithinSeconds = healthyWithin.TotalSeconds }, loggerFactory.CreateLogger("Bulwark.Deploy"));
        var strategy = ClusterServices.Strategy(service, state.OnPostgres);
        var outcome = await deployment.RunAsync(service, version!, strategy, cancellationToken);
        if (outcome.Succeeded && outcome.Replaced > 0)
        {
            desired.PreviousVersion = outcome.PreviousVersion;
            desired.Version = outcome.Version;
        }
        if (desired.Cells is not null)
        {
            // The deployment set the service's record; each cell's follows it.
            await SetDeploymentRecordsAsync(registry, desired, cancellationToken);
        }
        state.Save(directory);
        loggerFactory.Dispose();
        if (!outcome.Succeeded)
        {
            await Console.Error.WriteLineAsync($"bulwark {(rollback ? "rollback" : "deploy")}: {outcome.Message}");
            return 1;
        }
        await Console.Out.WriteLineAsync(outcome.Message);
        return 0;
    }

    private static async Task<int> AddMemberAsync(string directory, CancellationToken cancellationToken)
    {
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = await LoadRunningAsync(directory);
        try
        {
            var member = await LocalEtcd.AddAsync(directory, state, cancellationToken);
            await Console.Out.WriteLineAsync($"etcd member {member.Name} added at {member.ClientUrl} (pid {member.Pid}); {state.Members.Count} members.");
        }
        finally
        {
            state.Save(directory);
        }
        return 0;
    }

    private static async Task<int> RemoveMemberAsync(string directory, string? name, CancellationToken cancellationToken)
    {
        using var held = await ClusterState.LockAsync(directory, cancellationToken);
        var state = await LoadRunningAsync(directory);
        var member = name is null
            ? state.Members.LastOrDefault()
            : state.Members.FirstOrDefault(m => m.Name == name) ?? throw new ClusterException($"no etcd member '{name}'. Members: {string.Join(", ", state.Members.Select(m => m.Name))}.");
        if (member is null || state.Members.Count == 1)
        {
            throw new ClusterException("refusing to remove the last etcd member: the cluster would lose its registry.");
        }
        try
        {
            var how = await LocalEtcd.RemoveAsync(directory, state, member, cancellationToken);
            await Console.Out.WriteLineAsync($"etcd member {member.Name} removed ({how}); {state.Members.Count} members.");
        }
        finally
        {
            state.Save(directory);
        }
        return 0;
    }
}
