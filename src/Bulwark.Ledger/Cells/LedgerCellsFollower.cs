using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Cells;

/// <summary>
/// In the one-process bank, which serves every cell of its map: a cell added to the placement map
/// (<c>bulwark cells add</c>) is opened while the bank runs — its store created, its engine started
/// owning nothing (partitions come to it only by verified moves), its credit-leg delivery started,
/// and <c>ledger-NAME</c> announced so that the router reaches it. Checked on every map change and
/// once a second.
/// </summary>
internal sealed partial class LedgerCellsFollower(
    LedgerCells cells,
    PlacementView view,
    Func<string, PlacementMap, LedgerEngine> createEngine,
    LedgerCellLoops loops,
    IServiceAnnouncer announcer,
    ILogger<LedgerCellsFollower> logger) : BackgroundService
{
    private readonly SemaphoreSlim _changed = new(0, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        view.Changed += OnChanged;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (view.Current is { } map)
                {
                    await OpenNewCellsAsync(map, stoppingToken);
                }
                try
                {
                    await _changed.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
        finally
        {
            view.Changed -= OnChanged;
        }
    }

    private void OnChanged(PlacementMap map)
    {
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already woken.
            }
        }
    }

    private async Task OpenNewCellsAsync(PlacementMap map, CancellationToken cancellationToken)
    {
        foreach (var cell in map.Cells.Keys.Order(StringComparer.Ordinal))
        {
            if (cells.Find(cell) is not null)
            {
                continue;
            }
            LedgerEngine? engine = null;
            try
            {
                engine = createEngine(cell, map);
                await engine.StartAsync(cancellationToken);
                cells.Add(engine);
                // Its credit-leg deliveries and event relay, as every cell of the process has.
                await loops.StartForAsync(engine, cancellationToken);
                await announcer.AnnounceAsync(LedgerCells.ServiceName(cell), cancellationToken);
                LogCellOpened(cell);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                // Not served (its store could not be opened, or it belongs to another cell): said
                // once per map change and second, and the map's cell stays unreachable until fixed.
                LogCellNotOpened(error, cell);
                if (engine is not null && cells.Find(cell) is null)
                {
                    await engine.DisposeAsync();
                }
            }
        }
    }

    [LoggerMessage(EventId = 1430, Level = LogLevel.Information, Message = "Cell {Cell} was added to the placement map: serving it (it owns nothing until partitions are moved to it)")]
    private partial void LogCellOpened(string cell);

    [LoggerMessage(EventId = 1431, Level = LogLevel.Error, Message = "Cell {Cell} is in the placement map but could not be opened here")]
    private partial void LogCellNotOpened(Exception error, string cell);
}
