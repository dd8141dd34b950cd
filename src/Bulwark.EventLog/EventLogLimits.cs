namespace Bulwark.EventLog;

/// <summary>The event log's limits in one place, each with the reason for its number.</summary>
public static class EventLogLimits
{
    /// <summary>A ledger event is a few hundred bytes; 1 MiB leaves room for a whole saga's record and stays under NATS's default max_payload.</summary>
    public const int PayloadBytesMax = 1024 * 1024 - 4096;

    /// <summary>Cell names are short identifiers ("a", "cell-7"); the frame stores the length in one byte.</summary>
    public const int CellNameBytesMax = 255;

    /// <summary>One append carries at most this many records: a relay publishes one commit batch at a time, and the ledger's batches are at most 8,190 items.</summary>
    public const int AppendRecordsMax = 10_000;

    /// <summary>Appends waiting for the file writer; a caller beyond this waits (backpressure) rather than growing memory without bound.</summary>
    public const int FileAppendQueueMax = 1_024;

    /// <summary>Appends written together before one fsync (group commit): enough to amortise the fsync, few enough that one group's latency stays small.</summary>
    public const int FileGroupAppendsMax = 256;

    /// <summary>Default segment size: large enough that a directory of a long-lived log stays small, small enough that a scan on open reads little past the torn tail.</summary>
    public const long FileSegmentBytesDefault = 64L * 1024 * 1024;

    /// <summary>Default bound on one NATS request (publish ack, message get): an unreachable or hung server fails an append within about this.</summary>
    public const int JetStreamRequestTimeoutMillisecondsDefault = 5_000;

    /// <summary>Partitions published at once by one JetStream append (records of one partition go one after another: each names the previous one's stream sequence).</summary>
    public const int JetStreamPartitionsInFlightMax = 32;
}
