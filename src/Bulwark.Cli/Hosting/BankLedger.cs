using Bulwark.Ledger;
using Bulwark.Ledger.Cells;
using Bulwark.Platform.Placement;

namespace Bulwark.Cli.Hosting;

/// <summary>
/// The one-process bank's ledger cells (docs/internals/cells.md): its placement map is a file in
/// the data directory, made once when the bank is first started; cell "a" keeps its store in
/// <c>ledger.db</c> (so a bank from before cells is cell "a" owning every partition), cell "x" in
/// <c>ledger-x.db</c>.
/// </summary>
public static class BankLedger
{
    /// <summary>Cells a new one-process bank gets unless <c>--cells</c> says otherwise.</summary>
    public const int CellsDefault = 2;

    /// <summary>Most cells <c>--cells</c> accepts for the one-process bank: each is a writer thread and a database file.</summary>
    public const int CellsMax = 16;

    /// <summary>
    /// The bank's placement map: the one in the data directory, else a new one — with one cell
    /// when a ledger from before cells exists or the ledger is on PostgreSQL (one database), else
    /// <paramref name="cells"/> cells. Throws <see cref="InvalidOperationException"/> (a message for
    /// the operator) when an existing map cannot be used or disagrees with <paramref name="cells"/>.
    /// </summary>
    public static async Task<PlacementMap> EnsureMapAsync(BankPaths paths, int? cells, bool postgres, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var store = new FilePlacementStore(paths.Placement, TimeProvider.System);
        var existing = await store.ReadAsync(cancellationToken);
        if (existing is { Error: { } error })
        {
            throw new InvalidOperationException($"The placement map {paths.Placement} cannot be used: {error.Message}");
        }
        if (existing?.Map is { } map)
        {
            if (cells is { } asked && asked != map.Cells.Count)
            {
                throw new InvalidOperationException(
                    $"This bank already has {map.Cells.Count} cells ({string.Join(", ", map.Cells.Keys)}); --cells {asked} cannot change that. Leave --cells out.");
            }
            return map;
        }
        var legacy = File.Exists(paths.Ledger);
        if ((legacy || postgres) && cells is > 1)
        {
            throw new InvalidOperationException(legacy
                ? $"This bank's ledger ({paths.Ledger}) was made before cells: it is one cell. Leave --cells out."
                : "A one-process bank on PostgreSQL keeps its ledger in one database: one cell. Leave --cells out.");
        }
        var count = legacy || postgres ? 1 : cells ?? CellsDefault;
        var names = Enumerable.Range(0, count).Select(index => ((char)('a' + index)).ToString()).ToArray();
        var info = names.ToDictionary(name => name, name => new CellInfo(Path.GetFileName(paths.LedgerCell(name))), StringComparer.Ordinal);
        var created = PlacementMap.CreateInitial(Guid.NewGuid().ToString("D"), LedgerLimits.PartitionCountDefault, names, info);
        var read = await store.CreateIfAbsentAsync(created, cancellationToken);
        return read.Map ?? throw new InvalidOperationException($"The placement map {paths.Placement} could not be made: {read.Error?.Message}");
    }

    /// <summary>The map in the data directory, or null for a bank that has none (from before cells, or not started yet).</summary>
    public static PlacementMap? ReadMap(BankPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (!File.Exists(paths.Placement))
        {
            return null;
        }
        return PlacementMapCodec.Decode(File.ReadAllBytes(paths.Placement));
    }

    /// <summary>The options of every cell in <paramref name="map"/>, on SQLite under the data directory or on <paramref name="postgres"/>.</summary>
    public static IReadOnlyList<LedgerOptions> CellOptions(BankPaths paths, PlacementMap map, string? postgres)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(map);
        // A store made while another cell already holds accounts is not the bank's first start:
        // this cell's store was lost (deleted, or a backup restored without it). (A store of its
        // own that holds accounts but no identity yet is a ledger from before cells: it takes its partitions.)
        var withData = postgres is null ? map.Cells.Keys.Where(cell => HoldsAccounts(paths.LedgerCell(cell))).ToHashSet(StringComparer.Ordinal) : [];
        var births = new FileCellBirths(paths.CellBirths);
        return map.Cells.Keys.Order(StringComparer.Ordinal).Select(cell => new LedgerOptions
        {
            CellName = cell,
            ClusterId = map.ClusterId,
            PartitionCount = map.PartitionCount,
            // A new store takes the partitions the map gives its cell only as the cell's first
            // store at the bank's first start: the map is the one made then (version 1), the
            // cell's birth was never confirmed (DATA/placement-births.json, written once a store
            // holds its identity) and no other cell holds accounts yet (a bank from before the
            // birth records). A store made later — after moves, a cell added, or one lost — owns
            // nothing until a verified move or a replay gives it data (R9): a lost store is never
            // re-made empty owning data it does not hold; its partitions are refused (never "not
            // found") and `cells status` names them.
            InitialPartitions = map.Version == 1 && !withData.Any(other => other != cell) ? map.PartitionsOf(cell) : [],
            ClaimFirstStore = _ => Task.FromResult(births.Claim(cell) != CellBirthClaim.Born),
            DatabasePath = paths.LedgerCell(cell),
            PostgresConnectionString = postgres,
            CellStoreKept = (_, token) => births.ConfirmAsync(cell, token),
        }).ToArray();
    }

    /// <summary>Whether a cell's SQLite store exists and holds any account (read-only; false when it cannot be read).</summary>
    private static bool HoldsAccounts(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        try
        {
            using var connection = new Bulwark.Storage.Sqlite.SqliteDatabase(path).OpenReadOnly();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT EXISTS (SELECT 1 FROM accounts)";
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1;
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            // No accounts table yet (a store created but never migrated): no data.
            return false;
        }
    }

    /// <summary>Every cell's store, for <see cref="LedgerChecker.CheckCells"/>.</summary>
    public static IReadOnlyList<LedgerCellSource> Sources(BankPaths paths, string? postgres = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (postgres is not null)
        {
            return [LedgerCellSource.Postgres(postgres)];
        }
        var map = ReadMap(paths);
        return map is null
            ? [LedgerCellSource.Sqlite(paths.Ledger)]
            : map.Cells.Keys.Order(StringComparer.Ordinal).Select(cell => LedgerCellSource.Sqlite(paths.LedgerCell(cell))).ToArray();
    }

    /// <summary>
    /// The bank's placement map checked against what each cell's own store records (<see cref="PlacementConsistency"/>);
    /// null for a bank without a map yet, or whose map cannot be read (<see cref="EnsureMapAsync"/> says why).
    /// </summary>
    public static PlacementConsistencyReport? CheckPlacement(BankPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        PlacementMap? map;
        try
        {
            map = ReadMap(paths);
        }
        catch (PlacementMapException)
        {
            return null;
        }
        return map is null ? null : CheckPlacement(paths, map);
    }

    /// <summary><paramref name="map"/> checked against the SQLite cells under <paramref name="paths"/> (<see cref="PlacementConsistency"/>).</summary>
    public static PlacementConsistencyReport CheckPlacement(BankPaths paths, PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(map);
        var records = map.Cells.Keys.ToDictionary(cell => cell, cell => LedgerCellRecords.ReadSqlite(paths.LedgerCell(cell)), StringComparer.Ordinal);
        return PlacementConsistency.Check(map, records);
    }

    /// <summary>
    /// The cells whose store was made and confirmed before (DATA/placement-births.json) but is gone
    /// or holds no cell identity now (deleted, a lost disk): a store made again for them owns
    /// nothing, so their accounts are refused until the store is rebuilt from the event log.
    /// </summary>
    public static IReadOnlyList<string> LostCells(BankPaths paths, PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(map);
        var births = new FileCellBirths(paths.CellBirths);
        return [.. map.Cells.Keys.Order(StringComparer.Ordinal)
            .Where(cell => births.Recorded(cell) == CellBirthClaim.Born && LedgerCellRecords.ReadSqlite(paths.LedgerCell(cell)) is null)];
    }

    /// <summary>Checks every cell of the bank's ledger and the legs between them.</summary>
    public static LedgerCheckReport Check(BankPaths paths, string? postgres = null) => LedgerChecker.CheckCells(Sources(paths, postgres));
}
