using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// A ledger of real cells (SQLite, one engine each) laid out as a cluster runs them: one host per
/// cell (a cell is stopped and started on its own, from the same store), each reaching the others
/// through the placement map and the router, sharing one registry and one placement file; and a
/// client host that never stops, through which the traffic, the reads and the mover go.
/// A cell's stop is the host's graceful stop (its writer commits what is queued, in-flight calls
/// are cut): the in-process engine has no hard kill (the crash of a writer mid-batch is
/// CrashRestartTests' subject, in a separate process).
/// </summary>
public sealed class CellBank : IAsyncDisposable
{
    public const int Partitions = LedgerLimits.PartitionCountDefault;

    private readonly string _directory;
    private readonly InMemoryServiceRegistry _registry = new();
    private readonly Dictionary<string, WebApplication?> _cells = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SemaphoreSlim> _cellLocks = new(StringComparer.Ordinal);
    private WebApplication? _client;

    private CellBank(string directory, PlacementMap map)
    {
        _directory = directory;
        Map = map;
        foreach (var cell in map.Cells.Keys)
        {
            _cells[cell] = null;
            _cellLocks[cell] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>The first map (cells and their first partitions); the current one is in <see cref="Placement"/>.</summary>
    public PlacementMap Map { get; }

    public IReadOnlyList<string> CellNames => [.. Map.Cells.Keys.Order(StringComparer.Ordinal)];

    public FilePlacementStore Placement { get; private set; } = null!;

    /// <summary>The ledger as every service reaches it: through the router of the client host.</summary>
    public Protos.Ledger.LedgerClient Ledger { get; private set; } = null!;

    public string StorePath(string cell) => Path.Combine(_directory, cell + ".db");

    private string PlacementPath => Path.Combine(_directory, "placement.json");

    public static async Task<CellBank> StartAsync(IReadOnlyList<string> cells)
    {
        var directory = Path.Combine(Path.GetTempPath(), "bulwark-property-tests", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(directory);
        var created = await new FilePlacementStore(Path.Combine(directory, "placement.json"), TimeProvider.System)
            .CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-property-test", Partitions, cells), CancellationToken.None);
        var bank = new CellBank(directory, created.Map!);
        bank.Placement = new FilePlacementStore(bank.PlacementPath, TimeProvider.System);
        foreach (var cell in bank.CellNames)
        {
            await bank.StartCellAsync(cell);
        }
        await bank.StartClientAsync();
        return bank;
    }

    /// <summary>The engine of a running cell, or null while it is stopped.</summary>
    public LedgerEngine? Engine(string cell)
    {
        lock (_cells)
        {
            return _cells[cell]?.Services.GetRequiredService<LedgerCells>().Find(cell);
        }
    }

    public bool IsRunning(string cell)
    {
        lock (_cells)
        {
            return _cells[cell] is not null;
        }
    }

    public PartitionMover Mover(PartitionMoveOptions options) => new(Placement, Admin, options);

    public LedgerCellAdmin.LedgerCellAdminClient Admin(string cell) =>
        new(_client!.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(LedgerCells.ServiceName(cell)));

    /// <summary>Starts a stopped cell on its store (a no-op when it runs).</summary>
    public async Task StartCellAsync(string cell)
    {
        await _cellLocks[cell].WaitAsync();
        try
        {
            if (IsRunning(cell))
            {
                return;
            }
            var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Critical }, _registry);
            var placementPath = PlacementPath;
            builder.Services.AddPlacement(_ => new FilePlacementStore(placementPath, TimeProvider.System));
            builder.Services.AddLedgerRouting();
            builder.Services.AddLedgerCells([new LedgerOptions
            {
                DatabasePath = StorePath(cell),
                CellName = cell,
                ClusterId = Map.ClusterId,
                InitialPartitions = Map.PartitionsOf(cell),
            }]);
            builder.Services.AddLedgerCellPeers();
            var app = builder.Build();
            app.UsePlatform();
            app.MapLedger();
            await app.StartAsync();
            lock (_cells)
            {
                _cells[cell] = app;
            }
        }
        finally
        {
            _cellLocks[cell].Release();
        }
    }

    /// <summary>Stops a cell (its host's stop: the registry forgets it, its writer commits what is queued, its store closes).</summary>
    public async Task StopCellAsync(string cell)
    {
        await _cellLocks[cell].WaitAsync();
        try
        {
            WebApplication? app;
            lock (_cells)
            {
                app = _cells[cell];
                _cells[cell] = null;
            }
            if (app is not null)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
        finally
        {
            _cellLocks[cell].Release();
        }
    }

    private async Task StartClientAsync()
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Critical }, _registry);
        var placementPath = PlacementPath;
        builder.Services.AddPlacement(_ => new FilePlacementStore(placementPath, TimeProvider.System));
        builder.Services.AddLedgerRouting();
        _client = builder.Build();
        _client.UsePlatform();
        await _client.StartAsync();
        Ledger = new Protos.Ledger.LedgerClient(_client.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("ledger"));
    }

    /// <summary>Stops every cell and the client, then checks every cell's store and the legs between them (<c>ledger check</c>).</summary>
    public async Task<LedgerCheckReport> StopAndCheckAsync()
    {
        await StopAsync();
        return LedgerChecker.CheckCells(CellNames.Select(cell => LedgerCellSource.Sqlite(StorePath(cell))).ToArray());
    }

    private async Task StopAsync()
    {
        foreach (var cell in CellNames)
        {
            await StopCellAsync(cell);
        }
        if (_client is not null)
        {
            await _client.StopAsync();
            await _client.DisposeAsync();
            _client = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (var semaphore in _cellLocks.Values)
        {
            semaphore.Dispose();
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Ids (sequential from <paramref name="from"/>) of accounts in <paramref name="partition"/>.</summary>
    public static IEnumerable<UInt128> AccountsInPartition(int partition, int from = 1000)
    {
        for (var id = (UInt128)from; ; id++)
        {
            if (LedgerPartitioner.PartitionOf(id, Partitions) == partition)
            {
                yield return id;
            }
        }
    }
}
