namespace Bulwark.EventLog;

/// <summary>
/// One record of the event log: the <see cref="Sequence"/>-th record of <see cref="Partition"/>
/// (sequences start at 1 and have no gaps), written by <see cref="Cell"/> at its commit sequence
/// <see cref="CellSequence"/>, of a <see cref="Kind"/> that the writer defines (the log does not
/// interpret it), with an opaque <see cref="Payload"/>. A class rather than a record: the payload
/// is compared by content (<see cref="HasSameBody"/>), which a record's generated equality would not do.
/// </summary>
public sealed class EventRecord
{
    public EventRecord(int partition, long sequence, string cell, long cellSequence, int kind, ReadOnlyMemory<byte> payload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentOutOfRangeException.ThrowIfNegative(cellSequence);
        if (System.Text.Encoding.UTF8.GetByteCount(cell) > EventLogLimits.CellNameBytesMax)
        {
            throw new ArgumentException($"A cell name is at most {EventLogLimits.CellNameBytesMax} bytes of UTF-8.", nameof(cell));
        }
        if (payload.Length > EventLogLimits.PayloadBytesMax)
        {
            throw new ArgumentException($"A payload is at most {EventLogLimits.PayloadBytesMax} bytes (this one: {payload.Length}).", nameof(payload));
        }
        Partition = partition;
        Sequence = sequence;
        Cell = cell;
        CellSequence = cellSequence;
        Kind = kind;
        Payload = payload;
    }

    public int Partition { get; }

    /// <summary>The record's place in its partition: 1 for the first, no gaps.</summary>
    public long Sequence { get; }

    public string Cell { get; }

    public long CellSequence { get; }

    public int Kind { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>
    /// True when <paramref name="other"/> says the same thing: every field equal and the payloads
    /// equal byte for byte. This is how a republished record is told from a different one at the
    /// same place (a duplicate is a no-op, a different body is a conflict).
    /// </summary>
    public bool HasSameBody(EventRecord other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Partition == other.Partition && Sequence == other.Sequence && CellSequence == other.CellSequence &&
            Kind == other.Kind && string.Equals(Cell, other.Cell, StringComparison.Ordinal) &&
            Payload.Span.SequenceEqual(other.Payload.Span);
    }

    public override string ToString() => $"partition {Partition} sequence {Sequence} (cell {Cell} sequence {CellSequence}, kind {Kind}, {Payload.Length} bytes)";
}
