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
internal sealed record BankTarget(string? DataDirectory, string? StateDirectory, string? Registry)
{
    /// <summary>Why the command is run (<c>--reason</c>): sent with every call and written to the audit log by the operator gateway.</summary>
    public string? Reason { get; init; }

    /// <summary>
    /// Straight to the services, with no staff identity: only for bootstrapping on the machine that
    /// holds the cluster's state, before any staff member can exist (<c>cluster up</c> seeding its demo
    /// staff member and customers). Never set from a command line.
    /// </summary>
    public bool Direct { get; init; }

    /// <summary>How to name this bank in a "run: bulwark staff login ..." hint.</summary>
    internal string LoginHint => DataDirectory is { } data ? $" --data {data}" : StateDirectory is { } state ? $" --state {state}" : "";
}

/// <summary>
/// An operator command's way into a running bank: the services' own gRPC contracts over
/// <c>bulwark:///SERVICE</c> channels (with the same retries of safe methods and the same ledger
/// routing as the services' own calls), every one of them sent to the staff edge's operator gateway
/// with the operator's staff token and reason (<see cref="OperatorCredentials"/>): the gateway checks,
/// audits and forwards each call (docs/concepts/staff-edge.md). The registry behind the channels
/// names the gateway for every service: for a <c>bulwark run</c> bank its operator port from
/// <c>DATA/bank.json</c>; for a cluster the staff edge's from <c>cluster.json</c>. A cluster's etcd is
/// still read for the placement map and for the card processor instances (never written: this
/// process registers nothing). Only <see cref="BankTarget.Direct"/> (bootstrapping) reaches the services themselves.
/// </summary>
internal sealed class BankConnection : IAsyncDisposable
{
    /// <summary>
    /// The deadline of one call: generous for a loaded bank, short enough that a hung one is
    /// reported. The operator gateway's own bound on the forwarded call (StaffEdgeOptions.OperatorCallTimeout,
    /// 30 s): a full test run at load 54 on two cores once took more than the 15 s this was.
    /// </summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a cluster's etcd may take to answer before the command says it does not.</summary>
    private const double EtcdStartTimeoutSeconds = OperatorEtcd.TimeoutSeconds;

    private readonly ServiceProvider _provider;
    private readonly IAsyncDisposable? _registry;
    private readonly IDisposable? _placementEtcd;
    private readonly Grpc.Core.Metadata _credentials;

    private BankConnection(ServiceProvider provider, IAsyncDisposable? registry, string description, IDisposable? placementEtcd = null, Grpc.Core.Metadata? credentials = null)
    {
        _credentials = credentials ?? [];
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
        if (_gateway is { } gateway && gateway.Registered.Add(service))
        {
            // The gateway (or a bulwark run bank's one address) serves every cell of the map, a cell added since this connection too.
            gateway.Registry.RegisterAsync(ServiceInstance.Create(service, gateway.Address, "operator-view"), CancellationToken.None).GetAwaiter().GetResult();
        }
        return new(_provider.GetRequiredService<IServiceChannelFactory>().GetChannel(service).Intercept(new OperatorCallInterceptor(CellCallTimeout, _credentials)));
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
        // A cluster's instances are known from etcd; each call still goes through the gateway, naming its instance.
        var registry = _instanceRegistry ?? _provider.GetRequiredService<IServiceRegistry>();
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
                var credentials = new Grpc.Core.Metadata();
                foreach (var entry in _credentials)
                {
                    credentials.Add(entry);
                }
                string target;
                if (_gateway is { } gateway && _instanceRegistry is not null)
                {
                    credentials.Add(InstanceHeader, instance.Address);
                    target = gateway.Address;
                }
                else
                {
                    target = _gateway?.Address ?? instance.Address;
                }
                var channel = Grpc.Net.Client.GrpcChannel.ForAddress("http://" + target);
                _channels.Add(channel);
                clients.Add((instance.Address, new CardsClient(channel.Intercept(new OperatorCallInterceptor(CallTimeout, credentials)))));
            }
            return clients;
        }
    }

    private readonly List<Grpc.Net.Client.GrpcChannel> _channels = [];

    /// <summary>The header naming the one instance a call is for (the operator gateway's; a card processor's own journal).</summary>
    public const string InstanceHeader = "x-bulwark-instance";

    /// <summary>True for a <c>bulwark run</c> bank (every cell in its one process), false for a cluster (a process per cell).</summary>
    public bool IsOneProcessBank => DataDirectory is not null;

    /// <summary>The state directory of a local cluster reached by <c>--state</c> (its processes can be started); null otherwise.</summary>
    public string? StateDirectory { get; private set; }

    /// <summary>The data directory of a <c>bulwark run</c> bank (its stores are files there, unless on PostgreSQL); null for a cluster.</summary>
    public string? DataDirectory { get; private set; }

    private GatewayRegistry? _gateway;

    /// <summary>A cluster's etcd registry, read for the card processor instances (null for a bulwark run bank).</summary>
    private IServiceRegistry? _instanceRegistry;

    /// <summary>The registry the clients resolve through: every service at <paramref name="Address"/> (the operator gateway, or a run bank's one address).</summary>
    private sealed record GatewayRegistry(InMemoryServiceRegistry Registry, string Address, HashSet<string> Registered);

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
            if (!target.Direct)
            {
                throw new OperatorException("--registry names a cluster's etcd, not its operator gateway: operator commands go through the staff edge, found through the cluster's state: pass --state DIR.");
            }
            return await ConnectToEtcdAsync(ParseRegistry(registry), registry, null, null, cancellationToken);
        }
        if (target.StateDirectory is { } state)
        {
            return await ConnectToClusterAsync(Path.GetFullPath(state), target, cancellationToken);
        }
        if (target.DataDirectory is { } data)
        {
            return await ConnectToRunAsync(Path.GetFullPath(data), target);
        }
        // Neither given: the defaults of bulwark run and bulwark cluster up, whichever is running.
        var defaultData = Path.GetFullPath(Commands.CommonOptions.DataDirectoryDefault);
        var defaultState = Path.GetFullPath(Commands.ClusterCommand.StateDirectoryDefault);
        if (File.Exists(BankEndpointFile.PathIn(defaultData)))
        {
            return await ConnectToRunAsync(defaultData, target);
        }
        if (File.Exists(ClusterState.PathIn(defaultState)))
        {
            return await ConnectToClusterAsync(defaultState, target, cancellationToken);
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

    /// <summary>The credentials of every call: the staff session's token and the reason; none for a bootstrap connection.</summary>
    private static Grpc.Core.Metadata Credentials(BankTarget target, string loginHint) =>
        target.Direct ? [] : OperatorCredentials.Headers(target.Reason, loginHint, TimeProvider.System);

    private static async Task<BankConnection> ConnectToRunAsync(string dataDirectory, BankTarget target)
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
        string address;
        if (target.Direct)
        {
            address = file.InternalGrpc;
        }
        else
        {
            address = file.OperatorGrpc
                ?? throw new OperatorException($"the bank on {dataDirectory} has no operator gateway ({BankEndpointFile.FileName} names none: it was started by an older bulwark); restart it with: bulwark run --data {dataDirectory}");
        }
        var credentials = Credentials(target, $" --data {dataDirectory}");
        var registry = new InMemoryServiceRegistry();
        var paths = new BankPaths(dataDirectory);
        var cells = File.Exists(paths.Placement) ? BankLedger.ReadMap(paths)?.Cells.Keys.ToArray() ?? [] : [];
        foreach (var service in new[] { "accounts", "ledger", "cards", BankModules.Config, BankModules.Support }.Concat(cells.Select(cell => Bulwark.Ledger.Cells.LedgerCells.ServiceName(cell))))
        {
            await registry.RegisterAsync(ServiceInstance.Create(service, address, "operator-view"), CancellationToken.None);
        }
        // The bank's ledger is cells: the operator's calls go through the placement router, as the bank's own do.
        var placementFile = paths.Placement;
        var provider = BuildClients(registry, credentials, cells.Length > 0 ? services => new FilePlacementStore(placementFile, services.GetRequiredService<TimeProvider>()) : null);
        if (provider.GetService<PlacementView>() is { } view)
        {
            await view.StartAsync(CancellationToken.None);
        }
        var registered = new HashSet<string>(cells.Select(cell => Bulwark.Ledger.Cells.LedgerCells.ServiceName(cell)), StringComparer.Ordinal);
        return new BankConnection(provider, null, target.Direct ? $"the bank on {dataDirectory} ({address})" : $"the bank on {dataDirectory} (operator gateway {address})", credentials: credentials)
        {
            _gateway = new GatewayRegistry(registry, address, registered),
            DataDirectory = dataDirectory,
        };
    }

    private static async Task<BankConnection> ConnectToClusterAsync(string stateDirectory, BankTarget target, CancellationToken cancellationToken)
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
        string? gateway = null;
        Grpc.Core.Metadata? credentials = null;
        if (!target.Direct)
        {
            var staffEdge = state.Instances.FirstOrDefault(instance => instance.OperatorPort is not null)
                ?? throw new OperatorException($"the cluster in {stateDirectory} runs no staff edge with an operator gateway (cluster.json names none: started by an older bulwark?); restart it with: bulwark cluster down --state {stateDirectory} && bulwark cluster up --state {stateDirectory}");
            gateway = $"127.0.0.1:{staffEdge.OperatorPort}";
            credentials = Credentials(target, $" --state {stateDirectory}");
        }
        var connection = await ConnectToEtcdAsync([.. state.Members.Select(m => new Uri(m.ClientUrl))], state.RegistryAddress, gateway, credentials, cancellationToken);
        connection.StateDirectory = stateDirectory;
        return connection;
    }

    /// <summary>A cluster: its etcd for the placement map and instances; the clients at <paramref name="gateway"/> (null: the services themselves, for bootstrapping).</summary>
    private static async Task<BankConnection> ConnectToEtcdAsync(IReadOnlyList<Uri> endpoints, string address, string? gateway, Grpc.Core.Metadata? credentials, CancellationToken cancellationToken)
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
        GatewayRegistry? gatewayRegistry = null;
        if (gateway is not null)
        {
            var viaGateway = new InMemoryServiceRegistry();
            foreach (var service in new[] { "accounts", "ledger", "cards", BankModules.Config, BankModules.Support })
            {
                await viaGateway.RegisterAsync(ServiceInstance.Create(service, gateway, "operator-view"), CancellationToken.None);
            }
            gatewayRegistry = new GatewayRegistry(viaGateway, gateway, new HashSet<string>(StringComparer.Ordinal));
        }
        var provider = BuildClients(gatewayRegistry?.Registry ?? (IServiceRegistry)registry, credentials ?? [],
            _ => new EtcdPlacementStore(placementEtcd, TimeProvider.System, NullLogger<EtcdPlacementStore>.Instance));
        var connection = new BankConnection(provider, registry, gateway is null ? $"the cluster at {address}" : $"the cluster at {address} (operator gateway {gateway})", placementEtcd, credentials)
        {
            _gateway = gatewayRegistry,
            _instanceRegistry = gateway is null ? null : registry,
        };
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
        if (gatewayRegistry is not null)
        {
            // The router sends each ledger call to its cell's service, ledger-CELL: through the gateway, which finds the cell's instances.
            foreach (var cell in view.Current.Cells.Keys)
            {
                var service = Bulwark.Ledger.Cells.LedgerCells.ServiceName(cell);
                if (gatewayRegistry.Registered.Add(service))
                {
                    await gatewayRegistry.Registry.RegisterAsync(ServiceInstance.Create(service, gatewayRegistry.Address, "operator-view"), CancellationToken.None);
                }
            }
        }
        return connection;
    }

    /// <summary>The platform's resolver and channel factory over <paramref name="registry"/>, and the clients, each call carrying <paramref name="credentials"/>.</summary>
    private static ServiceProvider BuildClients(IServiceRegistry registry, Grpc.Core.Metadata credentials, Func<IServiceProvider, IPlacementStore>? placement = null)
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
        // Every call carries the operator's credentials and a deadline.
        var interceptor = new OperatorCallInterceptor(CallTimeout, credentials);
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
