namespace Bulwark.Ledger.Events;

/// <summary>The limits of replay and verification, with the reason for each.</summary>
public static class LedgerReplayLimits
{
    /// <summary>
    /// Rows written per store transaction during a replay. A transaction records the replay's
    /// progress with its rows, so this is also what a killed replay does again: 5,000 rows is a few
    /// milliseconds of SQLite or one PostgreSQL round trip's batch, and keeps memory small.
    /// </summary>
    public const int ChunkRowsMax = 5_000;

    /// <summary>Events per store transaction at most, however few rows they carry (events that move a partition carry none).</summary>
    public const int ChunkEventsMax = 1_000;

    /// <summary>Differences a comparison keeps in full; beyond this it counts them.</summary>
    public const int DifferencesListedMax = 1_000;

    /// <summary>
    /// Outbox events of one partition a republish reads and appends in one run (reconcile
    /// --repair). The outbox is small unless the relay is far behind, when the relay itself is the
    /// better path; a larger gap is republished over several runs, each continuing where the log ends.
    /// </summary>
    public const int RepublishEventsMax = 10_000;
}
