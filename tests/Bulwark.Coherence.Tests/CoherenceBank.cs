using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Bulwark.Accounts;
using Bulwark.Coherence.Checking;
using Bulwark.Edge;
using Bulwark.Feed;
using Bulwark.Ledger;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Routing;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Coherence.Tests;

/// <summary>
/// A bank laid out as a cluster runs it, in one test process: one host per ledger cell (real
/// SQLite cells, stopped and started on their own stores), and one host with the feed, the accounts
/// service, the edge (the app API on a public port) and the coherence checker, reaching the cells through the placement router; one registry and one
/// placement file for all. The checker's loop waits an hour before its first round: the tests make rounds
/// themselves (<see cref="RoundAsync"/>), so what a round saw is known without waiting.
/// </summary>
public sealed class CoherenceBank : IAsyncDisposable
{
    public const int Partitions = 16;

    private readonly string _directory;
    private readonly InMemoryServiceRegistry _registry = new();
    private readonly Dictionary<string, WebApplication?> _cells = new(StringComparer.Ordinal);
    private readonly MeterListener _listener = new();
    private WebApplication? _services;

    private CoherenceBank(string directory, PlacementMap map)
    {
        _directory = directory;
        Map = map;
        foreach (var cell in map.Cells.Keys)
        {
            _cells[cell] = null;
        }
    }

    public PlacementMap Map { get; }

    public IReadOnlyList<string> CellNames => [.. Map.Cells.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Every log line of the checker's host, in order.</summary>
    public ConcurrentQueue<LogLine> Logs { get; } = new();

    /// <summary>bulwark.coherence.checks by "check/result/cell", from the host's own meters.</summary>
    public ConcurrentDictionary<string, long> Checks { get; } = new(StringComparer.Ordinal);

    public CoherenceChecker Checker => _services!.Services.GetRequiredService<CoherenceChecker>();

    /// <summary>The checker host's services.</summary>
    public IServiceProvider Services => _services!.Services;

    public CoherenceStatus Status => _services!.Services.GetRequiredService<CoherenceStatus>();

    private string PlacementPath => Path.Combine(_directory, "placement.json");

    public string StorePath(string cell) => Path.Combine(_directory, cell + ".db");

    /// <summary>The accounts service's SQLite store (customers, the synthetic ones among them).</summary>
    public string AccountsPath => Path.Combine(_directory, "accounts.db");

    /// <summary>The app API's base address (this host's public endpoint), as customers reach it.</summary>
    public Uri AppApi => new($"http://{_services!.Services.GetRequiredService<InternalEndpointAccessor>().GetPublic()}/");

    /// <summary>The accounts service's contract, as operators' tools call it.</summary>
    public Bulwark.Accounts.Protos.Accounts.AccountsClient Accounts =>
        new(_services!.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("accounts"));

    /// <param name="map">Maps more services on the checker's host (a configuration service added through <paramref name="services"/>).</param>
    public static async Task<CoherenceBank> StartAsync(IReadOnlyList<string> cells, TimeSpan? cellBudget = null, Action<IServiceCollection>? services = null, Action<WebApplication>? map = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "bulwark-coherence-tests", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(directory);
        var created = await new FilePlacementStore(Path.Combine(directory, "placement.json"), TimeProvider.System)
            .CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-coherence-test", Partitions, cells), CancellationToken.None);
        var bank = new CoherenceBank(directory, created.Map!);
        foreach (var cell in bank.CellNames)
        {
            await bank.StartCellAsync(cell);
        }
        // A generous budget: a round's first read logs in through the app API and hashes a password, which on a loaded
        // 2-core machine has taken over 3 s. Tests of the budget itself pass a short one with a peer that hangs.
        await bank.StartServicesAsync(cellBudget ?? TimeSpan.FromSeconds(30), services, map);
        return bank;
    }

    /// <summary>One round of the checker, now.</summary>
    public Task<IReadOnlyList<CheckOutcome>> RoundAsync() => Checker.RunRoundAsync(CancellationToken.None);

    public async Task StartCellAsync(string cell)
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Critical }, _registry);
        var placementPath = PlacementPath;
        builder.Services.AddPlacement(_ => new FilePlacementStore(placementPath, TimeProvider.System));
        builder.Services.AddLedgerRouting();
        builder.Services.AddLedgerCells([new Ledger.LedgerOptions
        {
            DatabasePath = StorePath(cell),
            CellName = cell,
            ClusterId = Map.ClusterId,
            PartitionCount = Partitions,
            InitialPartitions = Map.PartitionsOf(cell),
        }]);
        builder.Services.AddLedgerCellPeers();
        var app = builder.Build();
        app.UsePlatform();
        Ledger.LedgerServiceCollectionExtensions.MapLedger(app);
        await app.StartAsync();
        _cells[cell] = app;
    }

    /// <summary>
    /// Moves a partition as an operator does (copy, catch up, verify, fenced flip of the map), then
    /// has the checker's host read the new map at once rather than at its next poll.
    /// </summary>
    public async Task MoveAsync(int partition, string target)
    {
        var channels = _services!.Services.GetRequiredService<IServiceChannelFactory>();
        var mover = new PartitionMover(new FilePlacementStore(PlacementPath, TimeProvider.System),
            cell => new LedgerCellAdmin.LedgerCellAdminClient(channels.GetChannel(LedgerCells.ServiceName(cell))),
            // The old owner's copy stays (it serves nothing once the map flipped): no 30 s grace to wait out.
            new PartitionMoveOptions { DropCopy = false });
        await mover.MoveAsync(partition, target);
        await _services.Services.GetRequiredService<PlacementView>().RefreshAsync(CancellationToken.None);
    }

    /// <summary>Stops a cell's host: the registry forgets it, its store closes.</summary>
    public async Task StopCellAsync(string cell)
    {
        if (_cells[cell] is { } app)
        {
            _cells[cell] = null;
            await app.StopAsync();
            await app.DisposeAsync();
            // Pooled connections keep the store's file open: a restored file must be opened anew.
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    /// <summary>
    /// Stops a cell's host and puts in its place, under its name in the registry, a peer that accepts
    /// connections and never answers (a process stopped by SIGSTOP, a wedged host). Disposing the
    /// result closes the listener and forgets the registration.
    /// </summary>
    public async Task<IAsyncDisposable> HangCellAsync(string cell)
    {
        await StopCellAsync(cell);
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new ConcurrentBag<System.Net.Sockets.Socket>();
        var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    accepted.Add(await listener.AcceptSocketAsync(stop.Token));
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
        var address = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        var registration = await _registry.RegisterAsync(
            ServiceInstance.Create(LedgerCells.ServiceName(cell), address, "hung"), CancellationToken.None);
        return new Hung(async () =>
        {
            await registration.DisposeAsync();
            await stop.CancelAsync();
            listener.Stop();
            await accepting;
            foreach (var socket in accepted)
            {
                socket.Dispose();
            }
            stop.Dispose();
        });
    }

    private sealed class Hung(Func<Task> release) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await release();
    }

    /// <summary>Copies a stopped cell's store (the database and its journal files) to <paramref name="target"/>'s name.</summary>
    public void CopyStore(string cell, string target)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            var from = StorePath(cell) + suffix;
            var to = Path.Combine(_directory, target) + suffix;
            File.Delete(to);
            if (File.Exists(from))
            {
                File.Copy(from, to);
            }
        }
    }

    /// <summary>Puts a copy made by <see cref="CopyStore"/> back as a stopped cell's store: the cell restored from an old backup.</summary>
    public void RestoreStore(string cell, string copy)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            var from = Path.Combine(_directory, copy) + suffix;
            var to = StorePath(cell) + suffix;
            File.Delete(to);
            if (File.Exists(from))
            {
                File.Copy(from, to);
            }
        }
    }

    /// <summary>Stops everything, then checks every cell's store and the legs between them (<c>ledger check</c>).</summary>
    public async Task<LedgerCheckReport> StopAndCheckAsync()
    {
        await StopAsync();
        return LedgerChecker.CheckCells([.. CellNames.Select(cell => LedgerCellSource.Sqlite(StorePath(cell)))]);
    }

    /// <summary>A directory of the bank's own, removed with it (for the stores a test adds).</summary>
    public string DataDirectory => _directory;

    private async Task StartServicesAsync(TimeSpan cellBudget, Action<IServiceCollection>? services, Action<WebApplication>? map)
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            ConsoleLogLevel = LogLevel.Critical,
            // The app API, on this host's public port: the checker finds it there, as in bulwark run.
            PublicEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
        }, _registry);
        builder.Logging.AddProvider(new ListLoggerProvider(Logs));
        // The host logs only critical lines to the console; the checker's lines reach the list.
        builder.Logging.AddFilter<ListLoggerProvider>("Bulwark.Coherence", LogLevel.Information);
        var placementPath = PlacementPath;
        builder.Services.AddPlacement(_ => new FilePlacementStore(placementPath, TimeProvider.System));
        builder.Services.AddLedgerRouting();
        builder.Services.AddFeed(new FeedOptions());
        builder.Services.AddAccounts(new AccountsOptions
        {
            DatabasePath = AccountsPath,
            TokenisationKeyPath = Path.Combine(_directory, "keys", "tokenisation.key"),
            // The fewest iterations the service takes: the tests' logins cost no seconds of hashing.
            PasswordIterations = AccountsLimits.PasswordIterationsMin,
        });
        builder.Services.AddEdge(new EdgeOptions { SigningKeyPath = Path.Combine(_directory, "keys", "edge-signing.key") });
        builder.Services.AddCoherence(new CoherenceOptions { Interval = TimeSpan.FromHours(1), CellBudget = cellBudget });
        services?.Invoke(builder.Services);
        _services = builder.Build();
        _services.UsePlatform();
        _services.MapFeed();
        _services.MapAccounts();
        _services.MapEdge();
        map?.Invoke(_services);
        var meters = _services.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this host's meters: other tests' hosts run at the same time.
            if (instrument.Meter.Scope == meters && instrument.Name == Bulwark.Coherence.Telemetry.CoherenceMetrics.ChecksName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var labels = tags.ToArray().ToDictionary(tag => tag.Key, tag => tag.Value as string);
            Checks.AddOrUpdate($"{labels["check"]}/{labels["result"]}/{labels["cell"]}", value, (_, total) => total + value);
        });
        _listener.Start();
        await _services.StartAsync();
    }

    private async Task StopAsync()
    {
        foreach (var cell in CellNames)
        {
            await StopCellAsync(cell);
        }
        if (_services is not null)
        {
            await _services.StopAsync();
            await _services.DisposeAsync();
            _services = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _listener.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public sealed record LogLine(string Category, LogLevel Level, EventId EventId, string Message);

/// <summary>Keeps every log line of a host, for tests that assert what was logged.</summary>
public sealed class ListLoggerProvider(ConcurrentQueue<LogLine> lines) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new ListLogger(categoryName, lines);

    public void Dispose()
    {
    }

    private sealed class ListLogger(string category, ConcurrentQueue<LogLine> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(new LogLine(category, logLevel, eventId, formatter(state, exception)));
    }
}
