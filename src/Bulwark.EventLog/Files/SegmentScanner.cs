namespace Bulwark.EventLog.Files;

/// <summary>
/// Reads every frame of the segments on open, rebuilding the index, and decides what an unsound
/// frame means. In the last segment, a frame cut short by the end of the file, one whose checksum
/// fails and that ends exactly at the end of the file, or zeros to the end of the file are a torn
/// tail: the write a crash interrupted, never acknowledged because its fsync never returned. That
/// tail is truncated (and logged). Anything else unsound — in an earlier segment, followed by more
/// bytes, or a sound frame of an unknown version — is corruption, and the log refuses to open,
/// naming the file and offset: truncating there would drop acknowledged records.
/// A scan for a snapshot (<see cref="FileEventLog.OpenSnapshot"/>) writes nothing: in the last
/// segment, an unsound frame is where the snapshot ends (the writer may be writing it).
/// </summary>
internal sealed class SegmentScanner
{
    private const int ReadBytes = 4 * 1024 * 1024;
    private readonly Dictionary<int, PartitionIndex> _index;
    private byte[] _buffer = new byte[ReadBytes];

    private readonly bool _snapshot;

    public SegmentScanner(Dictionary<int, PartitionIndex> index, bool snapshot = false)
    {
        _index = index;
        _snapshot = snapshot;
    }

    public long Records { get; private set; }

    /// <summary>A torn tail found and cut: the segment, the offset cut at, the bytes dropped, and why.</summary>
    public (string Segment, long Offset, long Bytes, string Reason)? Truncated { get; private set; }

    public void Scan(SegmentFile segment, bool isLast)
    {
        var headerProblem = segment.CheckHeader();
        if (headerProblem is not null)
        {
            if (isLast && segment.Length < SegmentFile.HeaderBytes)
            {
                if (_snapshot)
                {
                    // A segment its writer is creating: nothing in it yet.
                    return;
                }
                Truncated = (segment.Name, 0, segment.Length, headerProblem);
                segment.WriteHeader();
                return;
            }
            throw new EventLogException(EventLogError.Corrupt, $"Segment {segment.Path}: {headerProblem}.", location: segment.Path);
        }
        long offset = SegmentFile.HeaderBytes;
        long bufferStart = offset;
        var filled = 0;
        var fileLength = segment.Length;
        while (true)
        {
            var at = (int)(offset - bufferStart);
            var wanted = RecordFrame.FrameLength(_buffer.AsSpan(at, filled - at)) ?? RecordFrame.HeaderBytes;
            if (filled - at < wanted && bufferStart + filled < fileLength)
            {
                // Refill from the current frame on, growing the buffer for a frame larger than it.
                if (wanted > _buffer.Length)
                {
                    Array.Resize(ref _buffer, wanted);
                }
                bufferStart = offset;
                filled = RandomAccess.Read(segment.Handle, _buffer, offset);
                continue;
            }
            if (offset == fileLength)
            {
                return;
            }
            var status = RecordFrame.TryDecode(_buffer.AsSpan(at, filled - at), out var record, out var length, out var version);
            if (status != FrameStatus.Ok)
            {
                Unsound(segment, isLast, offset, status, length, version);
                return;
            }
            Add(segment, offset, record!);
            offset += length;
        }
    }

    private void Add(SegmentFile segment, long offset, EventRecord record)
    {
        if (!_index.TryGetValue(record.Partition, out var partition))
        {
            partition = new PartitionIndex();
            _index.Add(record.Partition, partition);
        }
        if (record.Sequence != partition.Written + 1)
        {
            throw new EventLogException(EventLogError.Gap,
                $"Segment {segment.Path} offset {offset}: partition {record.Partition} sequence {record.Sequence} follows sequence {partition.Written} (expected {partition.Written + 1}); the log has a gap or a repeat and is refused.",
                record.Partition, record.Sequence, Location(segment, offset));
        }
        partition.Add(SegmentFile.Position(segment.Number, offset));
        partition.Durable = partition.Written;
        Records++;
    }

    private void Unsound(SegmentFile segment, bool isLast, long offset, FrameStatus status, int length, byte version)
    {
        var reason = RecordFrame.Describe(status, version);
        if (_snapshot && isLast && status != FrameStatus.UnknownVersion)
        {
            // The end of what is written: a frame being appended, or a torn one its writer will cut.
            return;
        }
        var torn = isLast && status != FrameStatus.UnknownVersion &&
            (status == FrameStatus.Incomplete ||
             (status == FrameStatus.BadChecksum && offset + length == segment.Length) ||
             ZerosToEnd(segment, offset));
        if (!torn)
        {
            var after = isLast ? "more data follows it" : "later segments follow it";
            throw new EventLogException(RecordFrame.ErrorOf(status),
                $"Segment {segment.Path} offset {offset}: {reason}, and {after}; this is corruption, not a torn write, so the log is not opened for append. Nothing was changed.",
                location: Location(segment, offset));
        }
        Truncated = (segment.Name, offset, segment.Length - offset, reason);
        segment.Truncate(offset);
    }

    private static bool ZerosToEnd(SegmentFile segment, long offset)
    {
        var chunk = new byte[64 * 1024];
        for (var at = offset; at < segment.Length;)
        {
            var read = RandomAccess.Read(segment.Handle, chunk, at);
            if (read <= 0)
            {
                break;
            }
            if (chunk.AsSpan(0, read).ContainsAnyExcept((byte)0))
            {
                return false;
            }
            at += read;
        }
        return true;
    }

    public static string Location(SegmentFile segment, long offset) => $"{segment.Name} offset {offset}";
}
