namespace Bulwark.EventLog;

/// <summary>
/// The event log outside the system of record (R13): records keyed by partition, each partition a
/// gap-free sequence from 1. Generic: the writer (the ledger's relay) defines what kinds and
/// payloads mean.
///
/// Exactly-once holds in the log however often a record is appended: a record at or below a
/// partition's last sequence is a duplicate, accepted as a no-op when its body is the same as the
/// stored one and refused as a <see cref="EventLogError.Conflict"/> when it differs; a record past
/// the next sequence is refused as a <see cref="EventLogError.Gap"/>. So a relay that crashed
/// after publishing and before recording its watermark republishes safely, at any later time.
/// </summary>
public interface IEventLog : IAsyncDisposable
{
    /// <summary>
    /// Appends <paramref name="records"/>: per partition in sequence order, each following the last
    /// stored one or repeating a stored one. Durable when the call returns. The batch is checked
    /// whole before anything is written: a gap or a conflict anywhere refuses it all.
    /// </summary>
    /// <exception cref="EventLogException">Gap, Conflict, Invalid, Unavailable or Failed.</exception>
    Task<AppendResult> AppendAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken = default);

    /// <summary>The partition's last durable sequence, 0 when it has no record (a relay starts there).</summary>
    Task<long> GetLastSequenceAsync(int partition, CancellationToken cancellationToken = default);

    /// <summary>
    /// The partition's records from <paramref name="fromSequence"/> to the last one stored when the
    /// read began, in order. Stops with an <see cref="EventLogException"/> at a record with a bad
    /// checksum, an unknown version, or out of sequence, naming where.
    /// </summary>
    IAsyncEnumerable<EventRecord> ReadAsync(int partition, long fromSequence = 1, CancellationToken cancellationToken = default);
}

/// <summary>What an append did: records newly written, and repeats of stored records (no-ops).</summary>
public readonly record struct AppendResult(int Appended, int Duplicates);
