namespace Bulwark.EventLog.Files;

/// <summary>Where the embedded event log lives and how large its segment files grow. Checked when the log opens.</summary>
public sealed record FileEventLogOptions
{
    /// <summary>The log's own directory (created when missing). One writer at a time: a lock file inside it.</summary>
    public required string Directory { get; init; }

    /// <summary>A segment is closed and a new one started once the next append would take it past this (a single append larger than this still goes whole into one segment).</summary>
    public long SegmentBytes { get; init; } = EventLogLimits.FileSegmentBytesDefault;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(SegmentBytes, 4096);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SegmentBytes, SegmentFile.OffsetMax);
    }
}
