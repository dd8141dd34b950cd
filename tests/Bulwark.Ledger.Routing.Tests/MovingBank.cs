using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// A ledger of real cells (SQLite, one engine each) in one host, as the one-process bank runs it:
/// the placement map in a file, every client through the router, the cells reaching each other for
/// credit legs, and a <see cref="PartitionMover"/> over the cells' move contract.
/// </summary>
public sealed class MovingBank : IAsyncDisposable
{
    public const int Partitions = LedgerLimits.PartitionCountDefault;

    private readonly string _directory;
    private WebApplication? _app;

    private MovingBank(string directory, PlacementMap map)
    {
        _directory = directory;
        Map = map;
    }

    public PlacementMap Map { get; }

    public string PlacementPath => Path.Combine(_directory, "placement.json");

    public FilePlacementStore Placement { get; private set; } = null!;

    /// <summary>The ledger as every service reaches it: through the router.</summary>
    public Protos.Ledger.LedgerClient Ledger { get; private set; } = null!;

    public LedgerCells Cells => _app!.Services.GetRequiredService<LedgerCells>();

    public LedgerEngine Cell(string name) => Cells.Find(name)!;

    public string StorePath(string cell) => Path.Combine(_directory, cell + ".db");

    public LedgerCellAdmin.LedgerCellAdminClient Admin(string cell) =>
        new(_app!.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(LedgerCells.ServiceName(cell)));

    public PartitionMover Mover(PartitionMoveOptions? options = null) =>
        new(Placement, Admin, options ?? new PartitionMoveOptions { Grace = TimeSpan.Zero });

    public static async Task<MovingBank> StartAsync(IReadOnlyList<string> cells, string? directory = null)
    {
        directory ??= Path.Combine(Path.GetTempPath(), "bulwark-move-tests", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(directory);
        var placementPath = Path.Combine(directory, "placement.json");
        var created = await new FilePlacementStore(placementPath, TimeProvider.System)
            .CreateIfAbsentAsync(PlacementMap.CreateInitial("bank-move-test", Partitions, cells), CancellationToken.None);
        var bank = new MovingBank(directory, created.Map!);
        await bank.StartHostAsync();
        return bank;
    }

    private async Task StartHostAsync()
    {
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions { ConsoleLogLevel = LogLevel.Critical }, new InMemoryServiceRegistry());
        var placementPath = PlacementPath;
        builder.Services.AddPlacement(_ => new FilePlacementStore(placementPath, TimeProvider.System));
        builder.Services.AddLedgerRouting();
        builder.Services.AddLedgerCells(Map.Cells.Keys.Order(StringComparer.Ordinal).Select(cell => new LedgerOptions
        {
            DatabasePath = StorePath(cell),
            CellName = cell,
            ClusterId = Map.ClusterId,
            InitialPartitions = Map.PartitionsOf(cell),
        }).ToArray());
        builder.Services.AddLedgerCellPeers();
        var directory = _directory;
        builder.Services.AddLedgerCellsFollowingMap((cell, map) => new LedgerOptions
        {
            DatabasePath = Path.Combine(directory, cell + ".db"),
            CellName = cell,
            ClusterId = map.ClusterId,
            InitialPartitions = [],
        });
        _app = builder.Build();
        _app.UsePlatform();
        _app.MapLedger();
        await _app.StartAsync();
        Placement = new FilePlacementStore(placementPath, TimeProvider.System);
        Ledger = new Protos.Ledger.LedgerClient(_app.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("ledger"));
    }

    /// <summary>Adds an empty cell to the map, as <c>bulwark cells add</c> does, and waits (bounded) until this bank serves it.</summary>
    public async Task AddCellAsync(string cell)
    {
        var read = (await Placement.ReadAsync(CancellationToken.None))!;
        Assert.True((await Placement.ReplaceAsync(read, read.Map!.WithCell(cell, new CellInfo(cell + ".db")), CancellationToken.None)).Succeeded);
        for (var attempt = 0; Cells.Find(cell) is null; attempt++)
        {
            Assert.True(attempt < 200, $"cell {cell} was not opened within 10 s");
            await Task.Delay(50);
        }
    }

    /// <summary>Stops every cell and starts them again on the same stores and map (a restart of the source and the target).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartHostAsync();
    }

    /// <summary>Stops the host (every cell's writer drains), then checks every cell and the legs between them.</summary>
    public async Task<LedgerCheckReport> StopAndCheckAsync(IEnumerable<string>? cells = null)
    {
        await StopAsync();
        return LedgerChecker.CheckCells((cells ?? Map.Cells.Keys).Select(cell => LedgerCellSource.Sqlite(StorePath(cell))).ToArray());
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Ids (sequential from <paramref name="from"/>) of accounts in partitions of <paramref name="cell"/>.</summary>
    public IEnumerable<UInt128> AccountsIn(string cell, int from = 1000)
    {
        for (var id = (UInt128)from; ; id++)
        {
            if (Map.CellOf(LedgerPartitioner.PartitionOf(id, Partitions)) == cell)
            {
                yield return id;
            }
        }
    }

    public static Metadata CellHeader(string cell) => new() { { LedgerCells.CellHeader, cell } };
}
