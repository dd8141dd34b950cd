using System.Text.Json;
using Bulwark.Cli.Cluster;
using Bulwark.Cli.Hosting;
using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Placement;
using Bulwark.Lab.Cluster;
using Bulwark.Ledger.Routing;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Grpc.Core.Interceptors;
using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using AuditClient = Bulwark.Support.Protos.Audit.AuditClient;
using CardsClient = Bulwark.Cards.Protos.Cards.CardsClient;
using ConfigClient = Bulwark.Config.Protos.Config.ConfigClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;
using StaffDirectoryClient = Bulwark.Support.Protos.StaffDirectory.StaffDirectoryClient;

namespace Bulwark.Cli.Operator;

/// <summary>Where an operator command finds the bank: at most one of <c>--data</c>, <c>--state</c>, <c>--registry</c>.</summary>
internal sealed record BankTarget(string? DataDirectory, string? StateDirectory, string? Registry);

/// <summary>
/// An operator command's way into a running bank: the services' own gRPC contracts over
/// <c>bulwark:///SERVICE</c> channels, exactly as the services call each other (with the same
/// retries of safe methods). Only the registry differs: for a <c>bulwark run</c> bank an in-memory
/// one holding the endpoint from <c>DATA/bank.json</c>; for a cluster the etcd registry, read
/// (never written: this process registers nothing).
/// </summary>
internal sealed class BankConnection : IAsyncDisposable
{
    /// <summary>The deadline of one call: generous for a loaded bank, short enough that a hung one is reported.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(15);

    /// <summary>How long a cluster's etcd may take to answer before the command says it does not.</summary>
    private const double EtcdStartTimeoutSeconds = OperatorEtcd.TimeoutSeconds;

    private readonly ServiceProvider _provider;
    private readonly IAsyncDisposable? _registry;
    private readonly IDisposable? _placementEtcd;

    private BankConnection(ServiceProvider provider, IAsyncDisposable? registry, string description, IDisposable? placementEtcd = null)
    {
        _provider = provider;
        _registry = registry;
        _placementEtcd = placementEtcd;
        Description = description;
        Accounts = provider.GetRequiredService<AccountsClient>();
        Ledger = provider.GetRequiredService<LedgerClient>();
        Config = provider.GetRequiredService<ConfigClient>();
        Staff = provider.GetRequiredService<StaffDirectoryClient>();
        Audit = provider.GetRequiredService<AuditClient>();
    }

    /// <summary>What the command talks to, for messages: "the bank on DIR (127.0.0.1:PORT)" or "the cluster at etcd://...".</summary>
    public string Description { get; }

    public AccountsClient Accounts { get; }

    public LedgerClient Ledger { get; }

    public ConfigClient Config { get; }

    /// <summary>The support service's staff directory (support.proto).</summary>
    public StaffDirectoryClient Staff { get; }

    /// <summary>The support service's audit log (support.proto).</summary>
    public AuditClient Audit { get; }

    /// <summary>Where the placement map lives, when the bank's ledger runs on cells (null otherwise).</summary>
    public IPlacementStore? Placement => _provider.GetService<IPlacementStore>();

    /// <summary>
    /// The move contract of one cell (<c>ledger-CELL</c>), for <c>bulwark cells</c>: calls name the
    /// cell in their header and carry the operator's credentials; the mover sets each call's deadline.
    /// </summary>
    public Bulwark.Ledger.Protos.LedgerCellAdmin.LedgerCellAdminClient CellAdmin(string cell)
    {
        var service = Bulwark.Ledger.Cells.LedgerCells.ServiceName(cell);
        if (_runBank is { } run && run.Registered.Add(service))
        {
            // A bulwark run bank serves every cell of its map at its one address, a cell added since this connection too.
            run.Registry.RegisterAsync(ServiceInstance.Create(service, run.Address, "operator-view"), CancellationToken.None).GetAwaiter().GetResult();
        }
        return new(_provider.GetRequiredService<IServiceChannelFactory>().GetChannel(service).Intercept(new OperatorCallInterceptor(CellCallTimeout)));
    }

    /// <summary>
    /// Every card processor instance, each with a client of its own contract (<c>cards.proto</c>):
    /// each instance keeps its own journal, so a tool reading journals asks each one, not one the
    /// balancer picks. Waits (bounded, <see cref="EtcdStartTimeoutSeconds"/>) for the registry's
    /// first view; an empty list when none is registered. The clients carry the operator's
    /// credentials and deadline, and live as long as this connection.
    /// </summary>
    public async Task<IReadOnlyList<(string Address, CardsClient Client)>> CardsInstancesAsync(CancellationToken cancellationToken)
    {
        var registry = _provider.GetRequiredService<IServiceRegistry>();
        var first = new TaskCompletionSource<ServiceView>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (registry.Watch("cards", view => first.TrySetResult(view)))
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(TimeSpan.FromSeconds(EtcdStartTimeoutSeconds));
            ServiceView view;
            try
            {
                view = await first.Task.WaitAsync(bound.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                view = registry.GetView("cards");
            }
            var clients = new List<(string, CardsClient)>();
            foreach (var instance in view.Instances.DistinctBy(instance => instance.Address, StringComparer.Ordinal))
            {
                var channel = Grpc.Net.Client.GrpcChannel.ForAddress("http://" + instance.Address);
                _channels.Add(channel);
                clients.Add((instance.Address, new CardsClient(channel.Intercept(new OperatorCallInterceptor(CallTimeout)))));
            }
            return clients;
        }
    }

    private readonly List<Grpc.Net.Client.GrpcChannel> _channels = [];

    /// <summary>True for a <c>bulwark run</c> bank (every cell in its one process), false for a cluster (a process per cell).</summary>
    public bool IsOneProcessBank => _runBank is not null;

    /// <summary>The state directory of a local cluster reached by <c>--state</c> (its processes can be started); null otherwise.</summary>
    public string? StateDirectory { get; private set; }

    /// <summary>The data directory of a <c>bulwark run</c> bank (its stores are files there, unless on PostgreSQL); null for a cluster.</summary>
    public string? DataDirectory { get; private set; }

    private RunBank? _runBank;

    private sealed record RunBank(InMemoryServiceRegistry Registry, string Address, HashSet<string> Registered);

    /// <summary>The deadline of a move step that names none: an export or a digest of a large partition takes a while.</summary>
    public static readonly TimeSpan CellCallTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Finds the bank and builds the clients; <see cref="OperatorException"/> with one line when it cannot.</summary>
    public static async Task<BankConnection> ConnectAsync(BankTarget target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var given = new[] { target.DataDirectory, target.StateDirectory, target.Registry }.Count(value => value is not null);
        if (given > 1)
        {
            throw new OperatorException("give one of --data (a bulwark run bank), --state or --registry (a cluster), not several.");
        }
        if (target.Registry is { } registry)
        {
            return await ConnectToEtcdAsync(ParseRegistry(registry), registry, cancellationToken);
        }
        if (target.StateDirectory is { } state)
        {
            return await ConnectToClusterAsync(Path.GetFullPath(state), cancellationToken);
        }
        if (target.DataDirectory is { } data)
        {
            return await ConnectToRunAsync(Path.GetFullPath(data));
        }
        // Neither given: the defaults of bulwark run and bulwark cluster up, whichever is running.
        var defaultData = Path.GetFullPath(Commands.CommonOptions.DataDirectoryDefault);
        var defaultState = Path.GetFullPath(Commands.ClusterCommand.StateDirectoryDefault);
        if (File.Exists(BankEndpointFile.PathIn(defaultData)))
        {
            return await ConnectToRunAsync(defaultData);
        }
        if (File.Exists(ClusterState.PathIn(defaultState)))
        {
            return await ConnectToClusterAsync(defaultState, cancellationToken);
        }
        throw new OperatorException($"no running bank found in {defaultData} or cluster in {defaultState}: pass --data DIR (a bulwark run bank), --state DIR or --registry etcd://HOST:PORT (a cluster).");
    }

    private static IReadOnlyList<Uri> ParseRegistry(string registry)
    {
        try
        {
            return EtcdRegistryAddress.Parse(registry);
        }
        catch (FormatException error)
        {
            throw new OperatorException($"--registry: {error.Message}");
        }
    }

    private static async Task<BankConnection> ConnectToRunAsync(string dataDirectory)
    {
        BankEndpointFile? file;
        try
        {
            file = BankEndpointFile.Read(dataDirectory);
        }
        catch (Exception error) when (error is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new OperatorException($"cannot read {BankEndpointFile.PathIn(dataDirectory)}: {error.Message}");
        }
        if (file is null)
        {
            throw new OperatorException($"no bank is running on {dataDirectory} (no {BankEndpointFile.FileName} there); start one with: bulwark run --data {dataDirectory}");
        }
        // Only where processes can be seen (/proc); elsewhere the call itself tells. A PID reused
        // by another program passes, and the call then finds nothing answering: "not answering".
        if (Directory.Exists("/proc/self") && !Directory.Exists($"/proc/{file.Pid}"))
        {
            throw new OperatorException($"the bank on {dataDirectory} is not running ({BankEndpointFile.FileName} was left by pid {file.Pid}, which has stopped); start it with: bulwark run --data {dataDirectory}");
        }
        var registry = new InMemoryServiceRegistry();
        var paths = new BankPaths(dataDirectory);
        var cells = File.Exists(paths.Placement) ? BankLedger.ReadMap(paths)?.Cells.Keys.ToArray() ?? [] : [];
        foreach (var service in new[] { "accounts", "ledger", "cards", BankModules.Config, BankModules.Support }.Concat(cells.Select(cell => Bulwark.Ledger.Cells.LedgerCells.ServiceName(cell))))
        {
            await registry.RegisterAsync(ServiceInstance.Create(service, file.InternalGrpc, "operator-view"), CancellationToken.None);
        }
        // The bank's ledger is cells: the operator's calls go through the placement router, as the bank's own do.
        var placementFile = paths.Placement;
        var provider = BuildClients(registry, cells.Length > 0 ? services => new FilePlacementStore(placementFile, services.GetRequiredService<TimeProvider>()) : null);
        if (provider.GetService<PlacementView>() is { } view)
        {
            await view.StartAsync(CancellationToken.None);
        }
        var registered = new HashSet<string>(cells.Select(cell => Bulwark.Ledger.Cells.LedgerCells.ServiceName(cell)), StringComparer.Ordinal);
        return new BankConnection(provider, null, $"the bank on {dataDirectory} ({file.InternalGrpc})")
        {
            _runBank = new RunBank(registry, file.InternalGrpc, registered),
            DataDirectory = dataDirectory,
        };
    }

    private static async Task<BankConnection> ConnectToClusterAsync(string stateDirectory, CancellationToken cancellationToken)
    {
        ClusterState? state;
        try
        {
            state = ClusterState.Load(stateDirectory);
        }
        catch (ClusterException error)
        {
            throw new OperatorException(error.Message);
        }
        if (state is null || state.Members.Count == 0)
        {
            throw new OperatorException($"no cluster in {stateDirectory} (start one with: bulwark cluster up --state {stateDirectory}).");
        }
        var connection = await ConnectToEtcdAsync([.. state.Members.Select(m => new Uri(m.ClientUrl))], state.RegistryAddress, cancellationToken);
        connection.StateDirectory = stateDirectory;
        return connection;
    }

    private static async Task<BankConnection> ConnectToEtcdAsync(IReadOnlyList<Uri> endpoints, string address, CancellationToken cancellationToken)
    {
        EtcdServiceRegistry registry;
        try
        {
            registry = await EtcdServiceRegistry.StartAsync(new EtcdRegistryOptions
            {
                Endpoints = endpoints,
                ProcessName = "bulwark-operator",
                StartTimeoutSeconds = EtcdStartTimeoutSeconds,
            }, NullLogger.Instance, cancellationToken: cancellationToken);
        }
        catch (EtcdUnavailableException error)
        {
            throw new OperatorException($"etcd is not answering at {address}: {error.Message}");
        }
        // The cluster's ledger is cells: its calls go through the placement router over the map in etcd, as the services' own do.
        var placementEtcd = new EtcdCluster(endpoints, TimeSpan.FromSeconds(EtcdStartTimeoutSeconds), NullLogger.Instance);
        var provider = BuildClients(registry, _ => new EtcdPlacementStore(placementEtcd, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance));
        var connection = new BankConnection(provider, registry, $"the cluster at {address}", placementEtcd);
        var view = provider.GetRequiredService<PlacementView>();
        await view.StartAsync(cancellationToken);
        if (view.Current is null)
        {
            try
            {
                using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                bound.CancelAfter(TimeSpan.FromSeconds(EtcdStartTimeoutSeconds));
                await view.RefreshAsync(bound.Token);
            }
            catch (Exception error) when (error is OperationCanceledException or EtcdUnavailableException && !cancellationToken.IsCancellationRequested)
            {
                // Said below, in the operator's words.
            }
        }
        if (view.Current is null)
        {
            await connection.DisposeAsync();
            throw new OperatorException($"the cluster at {address} has no usable placement map in etcd (/bulwark/placement/map), so its ledger cells are unknown; bulwark cluster up makes it.");
        }
        return connection;
    }

    /// <summary>The platform's resolver and channel factory over <paramref name="registry"/>, and the two clients.</summary>
    private static ServiceProvider BuildClients(IServiceRegistry registry, Func<IServiceProvider, IPlacementStore>? placement = null)
    {
        var services = new ServiceCollection();
        if (placement is not null)
        {
            services.AddLogging();
            services.AddMetrics();
            services.AddSingleton(TimeProvider.System);
            services.AddPlacement(placement);
            services.AddLedgerRouting();
        }
        services.AddSingleton(registry);
        services.AddSingleton<ResolverFactory, BulwarkResolverFactory>();
        services.AddSingleton<IServiceChannelFactory, ServiceChannelFactory>();
        // Every call carries the operator's credentials and a deadline (issue 14 changes OperatorCredentials only).
        var interceptor = new OperatorCallInterceptor(CallTimeout);
        services.AddServiceClient("accounts", channel => new AccountsClient(channel.Intercept(interceptor)));
        services.AddServiceClient("ledger", channel => new LedgerClient(channel.Intercept(interceptor)));
        services.AddServiceClient(BankModules.Config, channel => new ConfigClient(channel.Intercept(interceptor)));
        services.AddServiceClient("support", channel => new StaffDirectoryClient(channel.Intercept(interceptor)));
        services.AddServiceClient("support", channel => new AuditClient(channel.Intercept(interceptor)));
        return services.BuildServiceProvider();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
        await _provider.DisposeAsync();
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }
        _placementEtcd?.Dispose();
    }
}

/// <summary>An operator command's operating error (bad input, bank not found or not answering): one line, exit code 2.</summary>
internal sealed class OperatorException(string message) : Exception(message);
