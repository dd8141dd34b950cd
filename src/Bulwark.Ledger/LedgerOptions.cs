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

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
