using System.Globalization;

namespace Bulwark.Ledger;

/// <summary>Where the ledger keeps its data and how its writer batches. Validated at start.</summary>
public sealed class LedgerOptions
{
    /// <summary>The SQLite database file (created with its directory when missing). Required unless <see cref="PostgresConnectionString"/> is set.</summary>
    public string DatabasePath { get; init; } = "";

    /// <summary>
    /// When set, the ledger lives in this PostgreSQL database (schema <c>ledger</c>, migrated at
    /// start) instead of the SQLite file. An Npgsql connection string; see
    /// <c>PostgresConnections.ConnectionStringFromUrl</c> for postgres:// URLs.
    /// </summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>
    /// Accounts are split into this many partitions by a stable hash of their id; every row stores
    /// its partition so that partitions can later move between cells. Fixed for the life of a
    /// database: opening it with another count is refused. Default: 256.
    /// </summary>
    public int PartitionCount { get; init; } = LedgerLimits.PartitionCountDefault;

    /// <summary>
    /// The cell this ledger serves (docs/internals/cells.md): lowercase letters, digits and '-', 1 to
    /// 32 characters. A store remembers the cell it was made for and refuses to serve another.
    /// Default "a": a ledger of one cell.
    /// </summary>
    public string CellName { get; init; } = "a";

    /// <summary>The bank's cluster id from its placement map; a store made for another cluster is refused. Empty: not checked.</summary>
    public string ClusterId { get; init; } = "";

    /// <summary>
    /// The partitions a NEW cell store owns at epoch 1 (from the placement map); null means all of
    /// them (a ledger of one cell). Ignored once the store belongs to a cell: after that only
    /// moves change what it owns.
    /// </summary>
    public IReadOnlyList<int>? InitialPartitions { get; init; }

    /// <summary>
    /// Asked only when the store is new (no cell identity yet): whether it may take
    /// <see cref="InitialPartitions"/> — whether it is its cell's first store (a cluster's ledger
    /// claims the cell's birth record, <c>ICellBirths</c>). False: the store owns nothing, as a
    /// store made again after a loss must (R9). Null: it may. Never asked on a restart.
    /// </summary>
    public Func<CancellationToken, Task<bool>>? ClaimFirstStore { get; init; }

    /// <summary>
    /// Told at start that the store holds its cell identity, so that a store made again later takes
    /// nothing: with true, awaited before the cell serves, when this start made the store; with
    /// false, in the background, for a store made before (a restart never waits on it). Null:
    /// nothing to tell.
    /// </summary>
    public Func<bool, CancellationToken, Task>? CellStoreKept { get; init; }

    /// <summary>Most items per committed batch. Default and maximum: <see cref="LedgerLimits.BatchTransfersMax"/>.</summary>
    public int BatchTransfersMax { get; init; } = LedgerLimits.BatchTransfersMax;

    /// <summary>Queue capacity in items before submitters wait. Default: <see cref="LedgerLimits.QueueCapacityItems"/>.</summary>
    public int QueueCapacityItems { get; init; } = LedgerLimits.QueueCapacityItems;

    /// <summary>How often held amounts past their timeout are released. Default: 1 second.</summary>
    public TimeSpan ExpirySweepInterval { get; init; } = TimeSpan.FromMilliseconds(LedgerLimits.ExpirySweepIntervalMillisecondsDefault);

    /// <summary>Throws when an option is unusable, so that a misconfigured process fails at start.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabasePath) && string.IsNullOrWhiteSpace(PostgresConnectionString))
        {
            throw new ArgumentException("LedgerOptions.DatabasePath (or PostgresConnectionString) is required.");
        }
        if (PartitionCount is < 1 or > LedgerLimits.PartitionCountMax)
        {
            throw new ArgumentException(Invariant($"LedgerOptions.PartitionCount must be 1 to {LedgerLimits.PartitionCountMax}, not {PartitionCount}."));
        }
        if (!IsCellName(CellName))
        {
            throw new ArgumentException($"LedgerOptions.CellName must be 1 to 32 lowercase letters, digits or '-', not '{CellName}'.");
        }
        if (InitialPartitions is not null && InitialPartitions.Any(partition => partition < 0 || partition >= PartitionCount))
        {
            throw new ArgumentException(Invariant($"LedgerOptions.InitialPartitions must name partitions 0 to {PartitionCount - 1}."));
        }
        if (BatchTransfersMax is < 1 or > LedgerLimits.BatchTransfersMax)
        {
            throw new ArgumentException(Invariant($"LedgerOptions.BatchTransfersMax must be 1 to {LedgerLimits.BatchTransfersMax}, not {BatchTransfersMax}."));
        }
        if (QueueCapacityItems < 1)
        {
            throw new ArgumentException(Invariant($"LedgerOptions.QueueCapacityItems must be positive, not {QueueCapacityItems}."));
        }
        if (ExpirySweepInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("LedgerOptions.ExpirySweepInterval must be positive.");
        }
    }

    /// <summary>A cell name: also part of a service name (ledger-NAME), so kept to a DNS label's alphabet.</summary>
    public static bool IsCellName(string? name) =>
        name is { Length: >= 1 and <= 32 } && name.All(character => character is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
        && name[0] != '-' && name[^1] != '-';

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
