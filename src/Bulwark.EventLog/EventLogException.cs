namespace Bulwark.EventLog;

/// <summary>Why an event-log operation failed; also the metric's reason tag.</summary>
public enum EventLogError
{
    /// <summary>A record does not follow the partition's last one (a sequence was skipped).</summary>
    Gap,

    /// <summary>A record at a place already taken, with a different body.</summary>
    Conflict,

    /// <summary>A stored record fails its checksum, is malformed, or is not where the index says.</summary>
    Corrupt,

    /// <summary>A stored record of a format version this code does not know.</summary>
    UnknownVersion,

    /// <summary>The log's directory is held by another writer.</summary>
    Locked,

    /// <summary>The log's store did not answer in time, or could not be reached.</summary>
    Unavailable,

    /// <summary>The log failed to write or sync and must be reopened before it is used again.</summary>
    Failed,

    /// <summary>The call itself is wrong (a batch out of order, too many records).</summary>
    Invalid,
}

/// <summary>
/// An event-log operation that failed, with the reason and, where there is one, the partition and
/// sequence it is about and where in the store (a file and offset, or a stream sequence). Nothing
/// is skipped silently: a read stops at the first bad record with this exception.
/// </summary>
public sealed class EventLogException : Exception
{
    public EventLogException(EventLogError error, string message, int? partition = null, long? sequence = null, string? location = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
        Partition = partition;
        Sequence = sequence;
        Location = location;
    }

    public EventLogException()
    {
    }

    public EventLogException(string message) : base(message)
    {
    }

    public EventLogException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public EventLogError Error { get; } = EventLogError.Failed;

    public int? Partition { get; }

    public long? Sequence { get; }

    /// <summary>Where in the store: "segment-00000003.log offset 4096", or "stream BULWARK sequence 812".</summary>
    public string? Location { get; }
}
