using Bulwark.Discovery.Etcd;
using Bulwark.Discovery.Etcd.Placement;
using Bulwark.Ledger;
using Bulwark.Platform.Placement;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cli.Hosting;

/// <summary>
/// The placement map as a <c>bulwark serve</c> process of a cluster reads it: from etcd
/// (<c>/bulwark/placement/map</c>, <see cref="EtcdPlacementStore"/>), with the last map read kept
/// in the process's data directory (<see cref="PlacementSnapshotStore"/>) so that a process
/// restarted while etcd does not answer still knows the cells. Every ledger client routes by it;
/// a ledger process takes its cell's identity and first partitions from it.
/// </summary>
internal sealed partial class ServePlacement : IDisposable
{
    /// <summary>How long one etcd call of the placement store may take before the next member is tried.</summary>
    private static readonly TimeSpan EtcdCallTimeout = TimeSpan.FromSeconds(2);

    private readonly EtcdCluster _etcd;
    private readonly ICellBirths _births;
    private readonly CellBirthConfirmer _confirmer;
    private readonly ILogger _logger;

    private ServePlacement(EtcdCluster etcd, PlacementSnapshotStore store, ILogger logger)
    {
        _etcd = etcd;
        _births = new EtcdCellBirths(etcd);
        _confirmer = new CellBirthConfirmer(_births, logger, new CellBirthConfirmerOptions { AttemptTimeout = EtcdCallTimeout });
        _logger = logger;
        Store = store;
    }

    public PlacementSnapshotStore Store { get; }

    /// <summary>The snapshot file of process <paramref name="processName"/> (<c>placement-ledger-b.json</c>: cells sharing a data directory keep one each).</summary>
    public static string SnapshotPath(string dataDirectory, string processName) => Path.Combine(dataDirectory, $"placement-{processName}.json");

    public static ServePlacement Connect(IReadOnlyList<Uri> endpoints, string snapshotPath, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        var etcd = new EtcdCluster(endpoints, EtcdCallTimeout, loggers.CreateLogger("Bulwark.Placement"));
        var store = new EtcdPlacementStore(etcd, TimeProvider.System, loggers.CreateLogger<EtcdPlacementStore>());
        return new ServePlacement(etcd, new PlacementSnapshotStore(store, snapshotPath, TimeProvider.System, loggers.CreateLogger<PlacementSnapshotStore>()),
            loggers.CreateLogger("Bulwark.Placement"));
    }

    /// <summary>
    /// The options of the ledger cell this process is to serve, or why it must not start (one line
    /// for the operator). <paramref name="cell"/> is <c>--cell</c>: a cell the map must name. Without
    /// it the process serves cell "a", and when etcd answers without a map it makes the one-cell map
    /// (cell "a" owning every partition): the ledger of a cluster from before cells, or of a
    /// cluster put together by hand (docs/guides/cluster-by-hand.md).
    /// </summary>
    public async Task<(LedgerOptions? Options, string? Refusal)> CellAsync(string? cell, BankPaths paths, string? postgres, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var named = cell ?? "a";
        PlacementRead? read;
        try
        {
            read = await Store.ReadAsync(cancellationToken);
            if (read is null && cell is null)
            {
                read = await Store.CreateIfAbsentAsync(
                    PlacementMap.CreateInitial(Guid.NewGuid().ToString("D"), LedgerLimits.PartitionCountDefault, ["a"]), cancellationToken);
            }
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            return (null, $"cannot read the placement map: etcd is not answering ({error.Message}) and this cell has no copy of it ({Store.SnapshotPath}); start it again once etcd answers.");
        }
        if (read is null)
        {
            return (null, "there is no placement map in etcd (/bulwark/placement/map): bulwark cluster up makes it before it starts the ledger's cells, and a cell cannot start without it (it would not know which partitions are its own). Start the cluster with bulwark cluster up, or leave --cell out to serve a ledger of one cell.");
        }
        if (read.Map is not { } map)
        {
            return (null, $"the placement map in etcd cannot be used: {read.Error?.Message}");
        }
        if (!map.Cells.ContainsKey(named))
        {
            return (null, $"cell '{named}' is not in the placement map (version {map.Version}): its cells are {string.Join(", ", map.Cells.Keys.Order(StringComparer.Ordinal))}.");
        }
        string? cellPostgres;
        try
        {
            cellPostgres = postgres is null ? null : LedgerCellStores.PostgresConnectionString(postgres, named);
        }
        catch (InvalidOperationException error)
        {
            return (null, error.Message);
        }
        return (new LedgerOptions
        {
            CellName = named,
            ClusterId = map.ClusterId,
            PartitionCount = map.PartitionCount,
            // As in bulwark run: a new store takes its cell's partitions only from the first map
            // (version 1), and only as the cell's first store; made later, or made again after a
            // loss, it owns nothing until a verified move or a replay gives it data (R9).
            InitialPartitions = map.Version == 1 ? map.PartitionsOf(named) : [],
            ClaimFirstStore = map.Version == 1 ? token => FirstStoreAsync(named, token) : null,
            DatabasePath = paths.LedgerCell(named),
            PostgresConnectionString = cellPostgres,
            CellStoreKept = (_, token) => ConfirmBirthAsync(named, token),
        }, null);
    }

    /// <summary>
    /// Whether the new store of <paramref name="cell"/> is its first (its birth record in etcd
    /// claimed now, or claimed by a start that never confirmed it). Asked only for a new store.
    /// Unknown (etcd not answering) is "no": the store then owns nothing, never data it does not hold.
    /// </summary>
    private async Task<bool> FirstStoreAsync(string cell, CancellationToken cancellationToken)
    {
        // Bounded: a restart while etcd stalls (the 2017 chain) waits this long at most, then
        // starts owning nothing new (a store that exists keeps what it owns).
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(EtcdCallTimeout);
        try
        {
            var claim = await _births.ClaimAsync(cell, bound.Token);
            if (claim == CellBirthClaim.Born)
            {
                LogBornBefore(cell);
            }
            return claim != CellBirthClaim.Born;
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            LogBirthUnknown(cell, error.Message);
            return false;
        }
    }

    /// <summary>Confirms the cell's birth once its store holds its identity; when etcd does not answer, tries again in the background (<see cref="CellBirthConfirmer"/>).</summary>
    private Task ConfirmBirthAsync(string cell, CancellationToken cancellationToken) => _confirmer.ConfirmAsync(cell, cancellationToken);

    [LoggerMessage(EventId = 4420, Level = LogLevel.Error, Message = "Cell {Cell}'s store is new, but the cell's store was made before (its birth is recorded in etcd): this store was lost and made again, and owns nothing until rebuilt from the event log (bulwark ledger replay, docs/runbooks/ledger-replay.md) or given partitions by a verified move")]
    private partial void LogBornBefore(string cell);

    [LoggerMessage(EventId = 4421, Level = LogLevel.Warning, Message = "Cell {Cell}'s store is new and its birth record in etcd could not be read ({Reason}): it owns nothing; start it again once etcd answers")]
    private partial void LogBirthUnknown(string cell, string reason);

    public void Dispose()
    {
        // The background confirmation stops before the etcd client it calls.
        _confirmer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _etcd.Dispose();
    }
}
