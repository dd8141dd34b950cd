using System.CommandLine;
using System.Net;
using Bulwark.Cli.Hosting;
using Bulwark.Discovery.Etcd;
using Bulwark.EventLog.JetStream;
using Bulwark.Ledger.Routing;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark serve --service NAME --registry etcd://…</c>: one service in one process, found by the
/// others through etcd. The host registers it once it listens (and the registry has a view),
/// and on SIGTERM or Ctrl-C withdraws it first, drains the calls in flight, then exits.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var service = new Option<string>("--service")
        {
            Description = $"The service this process runs: {BankModules.Names}.",
            Required = true,
        };
        var registry = new Option<string>("--registry")
        {
            Description = "etcd members, e.g. etcd://127.0.0.1:2379,127.0.0.1:2479.",
            Required = true,
        };
        var data = CommonOptions.Data();
        var port = new Option<int>("--port") { Description = "Internal gRPC port on 127.0.0.1 (0: any free port).", DefaultValueFactory = _ => 0 };
        var publicPort = new Option<int>("--public-port") { Description = "Public HTTP port of the edge on 127.0.0.1.", DefaultValueFactory = _ => RunCommand.PortDefault };
        var staffPort = CommonOptions.Port("--staff-port", "Port of the staff edge on 127.0.0.1 (service staff-edge only; 0: any free port).", RunCommand.StaffPortDefault);
        var operatorPort = CommonOptions.Port("--operator-port", "Port of the staff edge's operator gateway (HTTP/2) on 127.0.0.1 (service staff-edge only; 0: any free port).", RunCommand.OperatorPortDefault);
        var cardLinkPort = CommonOptions.Port("--card-link-port", "Port of the ISO 8583 card link on 127.0.0.1 (service cards only; 0: any free port, printed at start).", 0);
        var version = new Option<string>("--version-label") { Description = "Version published in this instance's registry record.", DefaultValueFactory = _ => "dev" };
        var store = StoreOption();
        var cell = new Option<string?>("--cell")
        {
            Description = "The ledger cell this process serves (service ledger only), one of the placement map's cells in etcd; registered as ledger-NAME. Its store: ledger.db (cell a) or ledger-NAME.db under --data, or on PostgreSQL the --store database (cell a) or DATABASE_ledger_NAME on the same server. Without --cell: cell a, and a one-cell map is made when etcd has none.",
        };
        var eventLog = new Option<string?>("--event-log")
        {
            Description = $"The event log's NATS servers: nats://HOST:PORT[,nats://HOST:PORT...] (one JetStream cluster; the bank's stream is {Bulwark.Lab.Cluster.LocalNats.StreamName}). Default: the {EventLogAddress.Variable} environment variable when set (cluster up sets it for the ledger's cells), else none. Checked at start.",
        };
        var command = new Command("serve", "Run one service in this process, registered in etcd (cluster mode).")
        {
            service, registry, data, port, publicPort, staffPort, operatorPort, cardLinkPort, version, store, cell, eventLog,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            // Everything this instance writes under --data is private to its user (docs/internals/security.md).
            Bulwark.Platform.Security.PrivateFiles.RestrictNewFilesToOwner();
            var (postgres, storeError) = CommonOptions.PostgresConnectionString(parse.GetValue(store));
            if (storeError is not null)
            {
                await Console.Error.WriteLineAsync($"bulwark serve: {storeError}");
                return 2;
            }
            var (address, eventLogError) = EventLogFrom(parse.GetValue(eventLog));
            if (eventLogError is not null)
            {
                await Console.Error.WriteLineAsync($"bulwark serve: {eventLogError}");
                return 2;
            }
            return await ServeAsync(
                parse.GetValue(service)!, parse.GetValue(registry)!, parse.GetValue(data)!.FullName,
                new ServePorts(parse.GetValue(port), parse.GetValue(publicPort), parse.GetValue(cardLinkPort), parse.GetValue(staffPort), parse.GetValue(operatorPort)), parse.GetValue(version)!, postgres, parse.GetValue(cell), address, cancellationToken);
        });
        return command;
    }

    /// <summary><c>--store postgres://…</c>, checked at parse time (a bad URL is named with the option); <see cref="CommonOptions.StoreVariable"/> when absent.</summary>
    internal static Option<string?> StoreOption()
    {
        var store = new Option<string?>("--store")
        {
            Description = "Keep the ledger's and the accounts' data in PostgreSQL: postgres://user[:password]@host[:port]/database (schemas 'ledger' and 'accounts', migrated at start). Default: the " + CommonOptions.StoreVariable + " environment variable when set, else SQLite files under --data. " + CommonOptions.StoreHelp,
        };
        store.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } url)
            {
                try
                {
                    Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url);
                }
                catch (FormatException error)
                {
                    result.AddError($"--store: {error.Message}");
                }
            }
        });
        return store;
    }

    /// <summary>
    /// The event log's address: <c>--event-log</c> when given (it wins), else <see cref="EventLogAddress.Variable"/>
    /// when set and not empty, else none. A malformed one is an error naming where it came from.
    /// </summary>
    internal static (EventLogAddress? Address, string? Error) EventLogFrom(string? option)
    {
        var (text, source) = option is not null
            ? (option, "--event-log")
            : (Environment.GetEnvironmentVariable(EventLogAddress.Variable), EventLogAddress.Variable);
        if (option is null && string.IsNullOrEmpty(text))
        {
            return (null, null);
        }
        return EventLogAddress.TryParse(text, out var address, out var error) ? (address, null) : (null, $"{source}: {error}.");
    }

    /// <summary>The internal gRPC port, the edge's public port and the card link's port.</summary>
    private sealed record ServePorts(int Internal, int Public, int CardLink, int Staff, int Operator);

    private static async Task<int> ServeAsync(string serviceName, string registryAddress, string dataDirectory, ServePorts ports, string version, string? postgres, string? cell, EventLogAddress? eventLog, CancellationToken cancellationToken)
    {
        var error = Console.Error;
        var served = BankModules.Find(serviceName);
        if (served is null)
        {
            await error.WriteLineAsync($"bulwark serve: unknown service '{serviceName}'. Known services: {BankModules.Names}.");
            return 2;
        }
        if (cell is not null && (served.Name != BankModules.Ledger || !Bulwark.Ledger.LedgerOptions.IsCellName(cell)))
        {
            await error.WriteLineAsync(served.Name != BankModules.Ledger
                ? $"bulwark serve: --cell is for the ledger's processes; {served.Name} is not split into cells."
                : $"bulwark serve: --cell must be 1 to 32 lowercase letters, digits or '-', not '{cell}'.");
            return 2;
        }
        // Cells share the ledger's data directory: each keeps its own snapshots there.
        var processName = cell is null ? served.Name : Bulwark.Ledger.Cells.LedgerCells.ServiceName(cell);
        IReadOnlyList<Uri> endpoints;
        try
        {
            endpoints = EtcdRegistryAddress.Parse(registryAddress);
        }
        catch (FormatException exception)
        {
            await error.WriteLineAsync($"bulwark serve: bad --registry: {exception.Message}");
            return 2;
        }
        if (ports.Internal is < 0 or > 65_535 || ports.Public is < 1 or > 65_535)
        {
            await error.WriteLineAsync("bulwark serve: --port must be 0-65535 and --public-port 1-65535.");
            return 2;
        }

        if (IsNeverReadyVersion(version))
        {
            return await NeverReadyAsync(serviceName, version, cancellationToken);
        }

        Bulwark.Platform.Security.PrivateFiles.CreateDirectory(dataDirectory);
        var snapshotPath = Path.Combine(dataDirectory, $"discovery-{processName}.json");
        using var loggerFactory = LoggerFactory.Create(logging => logging
            .AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss.fff ";
                console.UseUtcTimestamp = true;
            })
            .SetMinimumLevel(LogLevel.Information));
        EtcdServiceRegistry registry;
        try
        {
            registry = await EtcdServiceRegistry.StartAsync(new EtcdRegistryOptions
            {
                Endpoints = endpoints,
                SnapshotPath = snapshotPath,
                ProcessName = processName,
            }, loggerFactory.CreateLogger("Bulwark.Discovery"), cancellationToken: cancellationToken);
        }
        catch (EtcdUnavailableException exception)
        {
            await error.WriteLineAsync($"bulwark serve: {exception.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }

        await using (registry)
        {
            using var placement = ServePlacement.Connect(endpoints, ServePlacement.SnapshotPath(dataDirectory, processName), loggerFactory);
            var paths = new BankPaths(dataDirectory);
            var context = new ModuleContext(paths, postgres, new IPEndPoint(IPAddress.Loopback, ports.CardLink)) { PlacementStore = _ => placement.Store, EventLog = eventLog };
            if (served.Name == BankModules.Ledger)
            {
                var (options, refusal) = await placement.CellAsync(cell, paths, postgres, cancellationToken);
                if (options is null)
                {
                    await error.WriteLineAsync($"bulwark serve: {processName} cannot start: {refusal}");
                    return 2;
                }
                context = context with { LedgerCell = options };
            }
            return await RunHostAsync(served, processName, registry, context, ports, version, cancellationToken);
        }
    }

    private static bool IsNeverReadyVersion(string version) =>
        (Environment.GetEnvironmentVariable(ClusterOperations.NeverReadyVersionsVariable) ?? "")
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Contains(version, StringComparer.Ordinal);

    /// <summary>
    /// The test hook of a broken release (see <see cref="ClusterOperations.NeverReadyVersionsVariable"/>):
    /// the process runs but never listens, never registers and so never becomes healthy, until it
    /// is told to stop.
    /// </summary>
    private static async Task<int> NeverReadyAsync(string serviceName, string version, CancellationToken cancellationToken)
    {
        await Console.Out.WriteLineAsync($"bulwark serve: {serviceName} {version} never becomes ready (test hook {ClusterOperations.NeverReadyVersionsVariable}).");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopped, as a hung release is by its deployment's rollback.
        }
        return 0;
    }

    private static async Task<int> RunHostAsync(ServiceModule<ModuleContext> served, string processName, EtcdServiceRegistry registry, ModuleContext context, ServePorts ports, string version, CancellationToken cancellationToken)
    {
        var (paths, postgres) = (context.Paths, context.Postgres);
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            InternalEndpoint = new IPEndPoint(IPAddress.Loopback, ports.Internal),
            PublicEndpoint = served.Listeners.HasFlag(ServiceListeners.Public) ? new IPEndPoint(IPAddress.Loopback, ports.Public) : null,
            StaffEndpoint = served.Listeners.HasFlag(ServiceListeners.Staff) ? new IPEndPoint(IPAddress.Loopback, ports.Staff) : null,
            OperatorEndpoint = served.Listeners.HasFlag(ServiceListeners.Staff) ? new IPEndPoint(IPAddress.Loopback, ports.Operator) : null,
            Version = version,
            ServiceName = served.Name,
        }, registry);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        try
        {
            served.Add(builder.Services, context);
            if (served.Name != BankModules.Ledger)
            {
                // Every other service calls the ledger: through the router, each account to its cell.
                builder.Services.AddPlacement(context.PlacementStore!);
                builder.Services.AddLedgerRouting();
            }
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // The edge reads its signing keys here: a key file others can read stops it with one line.
            await Console.Error.WriteLineAsync($"bulwark serve: {served.Name} could not start: {exception.Message}");
            return 2;
        }
        builder.Services.AddEtcdDiscoveryReadiness(registry);
        await using var app = builder.Build();
        app.UsePlatform();
        served.Map(app);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException exception) when (exception.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"bulwark serve: cannot listen: {exception.Message}");
            return 2;
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException or System.Data.Common.DbException)
        {
            // A bad data directory, key file or database (PostgreSQL unreachable, newer schema): one line.
            var database = context.LedgerCell?.PostgresConnectionString ?? postgres;
            var store = database is not null && exception.GetBaseException() is System.Net.Sockets.SocketException or System.Data.Common.DbException
                ? $" (PostgreSQL {Bulwark.Storage.Postgres.PostgresConnections.Describe(database)})"
                : "";
            await Console.Error.WriteLineAsync($"bulwark serve: {processName} could not start{store}: {exception.GetBaseException().Message}");
            return 2;
        }
        var bound = app.Services.GetRequiredService<InternalEndpointAccessor>().Get();
        var discovery = registry.IsFresh ? "registered in etcd" : "routing on the discovery snapshot until etcd answers, registered in etcd as soon as it does";
        await Console.Out.WriteLineAsync($"bulwark serve: {processName} listening on {bound} (gRPC), ready, {discovery}; snapshot {Path.Combine(paths.DataDirectory, $"discovery-{processName}.json")}");
        if (served.Listeners.HasFlag(ServiceListeners.CardLink))
        {
            await Console.Out.WriteLineAsync($"bulwark serve: card link (ISO 8583) listening on {await app.Services.GetRequiredService<Bulwark.Cards.CardLink>().GetEndpointAsync()}");
        }
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM or Ctrl-C: the host withdraws the registration first, then drains.
        }
        await app.StopAsync(CancellationToken.None);
        await Console.Out.WriteLineAsync($"bulwark serve: {processName} deregistered, drained and stopped.");
        return 0;
    }
}
