using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.EventLog.Files;

/// <summary>
/// The embedded event log (<c>bulwark run</c>): a directory of append-only segment files written
/// by one writer thread. Appends queue up; the writer takes what is waiting (up to
/// <see cref="EventLogLimits.FileGroupAppendsMax"/> appends), checks and writes each, then syncs
/// once for the group (group commit) before any of them returns: durable when the call returns,
/// and many records per fsync under load. The index (partition → positions) is in memory,
/// rebuilt by reading every segment on open (<see cref="SegmentScanner"/>).
///
/// A failed write or fsync leaves the files in a state this process cannot know (after a failed
/// fsync the kernel may have dropped the dirty pages), so the log stops accepting appends
/// (<see cref="EventLogError.Failed"/>) until it is reopened, which finds the truth on disk.
/// </summary>
public sealed partial class FileEventLog : IEventLog
{
    private const string Store = "file";
    private const int ReadChunkRecords = 1024;

    private readonly FileEventLogOptions _options;
    private readonly DirectoryLock? _lock;
    private readonly List<SegmentFile> _segments;
    private readonly Dictionary<int, PartitionIndex> _index;
    private readonly Lock _indexLock = new();
    private readonly Channel<PendingAppend> _queue = Channel.CreateBounded<PendingAppend>(
        new BoundedChannelOptions(EventLogLimits.FileAppendQueueMax) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Thread? _writer;
    private readonly ILogger _logger;
    private readonly EventLogMetrics? _metrics;
    private volatile EventLogException? _failure;
    private int _disposed;

    private FileEventLog(FileEventLogOptions options, DirectoryLock? directoryLock, List<SegmentFile> segments, Dictionary<int, PartitionIndex> index,
        ILogger logger, EventLogMetrics? metrics)
    {
        _options = options;
        _lock = directoryLock;
        _segments = segments;
        _index = index;
        _logger = logger;
        _metrics = metrics;
        if (directoryLock is not null)
        {
            _writer = new Thread(WriteLoop) { IsBackground = true, Name = "event-log writer" };
            _writer.Start();
        }
    }

    /// <summary>
    /// A read-only view of the log in <paramref name="directory"/> as it is on disk now, beside its
    /// writer (a running <c>bulwark run</c>, which holds the lock): takes no lock and writes
    /// nothing. The records it reads are those whole at open; a frame still being written at the
    /// end of the last segment is not in it. Corruption anywhere else is refused as on
    /// <see cref="Open"/>. Appending to it is refused (<see cref="EventLogError.Invalid"/>).
    /// </summary>
    public static FileEventLog OpenSnapshot(string directory, ILogger<FileEventLog>? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory))
        {
            throw new EventLogException(EventLogError.Invalid, $"There is no event log in {directory}.", location: directory);
        }
        var options = new FileEventLogOptions { Directory = directory };
        var segments = new List<SegmentFile>();
        try
        {
            var index = new Dictionary<int, PartitionIndex>();
            var scanner = new SegmentScanner(index, snapshot: true);
            var numbers = SegmentFile.List(directory);
            for (var i = 0; i < numbers.Count; i++)
            {
                if (i > 0 && numbers[i] != numbers[i - 1] + 1)
                {
                    throw new EventLogException(EventLogError.Corrupt,
                        $"The event log in {directory} has no segment {SegmentFile.FileName(numbers[i - 1] + 1)} between {SegmentFile.FileName(numbers[i - 1])} and {SegmentFile.FileName(numbers[i])}; refused.",
                        location: Path.Combine(directory, SegmentFile.FileName(numbers[i - 1] + 1)));
                }
                var segment = SegmentFile.OpenToRead(directory, numbers[i]);
                segments.Add(segment);
                scanner.Scan(segment, isLast: i == numbers.Count - 1);
            }
            return new FileEventLog(options, null, segments, index, (ILogger?)logger ?? NullLogger.Instance, null) { RecordsAtOpen = scanner.Records };
        }
        catch
        {
            foreach (var segment in segments)
            {
                segment.Dispose();
            }
            throw;
        }
    }

    /// <summary>Whether this is a read-only snapshot (<see cref="OpenSnapshot"/>).</summary>
    public bool IsSnapshot => _lock is null;

    /// <summary>Records found on open.</summary>
    public long RecordsAtOpen { get; private init; }

    /// <summary>
    /// Opens (or creates) the log in <paramref name="options"/>' directory: takes the directory's
    /// lock, reads every segment, truncates a torn tail (logged), and refuses corruption.
    /// </summary>
    /// <exception cref="EventLogException">Locked (another writer), Corrupt, UnknownVersion or Gap (naming the file and offset).</exception>
    public static FileEventLog Open(FileEventLogOptions options, ILogger<FileEventLog>? logger = null, EventLogMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var log = (ILogger?)logger ?? NullLogger.Instance;
        Directory.CreateDirectory(options.Directory);
        var directoryLock = DirectoryLock.Acquire(options.Directory);
        var segments = new List<SegmentFile>();
        try
        {
            var started = Stopwatch.GetTimestamp();
            var index = new Dictionary<int, PartitionIndex>();
            var scanner = new SegmentScanner(index);
            var numbers = SegmentFile.List(options.Directory);
            for (var i = 0; i < numbers.Count; i++)
            {
                if (i > 0 && numbers[i] != numbers[i - 1] + 1)
                {
                    throw new EventLogException(EventLogError.Corrupt,
                        $"The event log in {options.Directory} has no segment {SegmentFile.FileName(numbers[i - 1] + 1)} between {SegmentFile.FileName(numbers[i - 1])} and {SegmentFile.FileName(numbers[i])}; refused.",
                        location: Path.Combine(options.Directory, SegmentFile.FileName(numbers[i - 1] + 1)));
                }
                var segment = SegmentFile.Open(options.Directory, numbers[i]);
                segments.Add(segment);
                scanner.Scan(segment, isLast: i == numbers.Count - 1);
            }
            if (scanner.Truncated is { } cut)
            {
                LogTornTailTruncated(log, options.Directory, cut.Segment, cut.Offset, cut.Bytes, cut.Reason);
            }
            if (segments.Count == 0)
            {
                segments.Add(SegmentFile.Create(options.Directory, 1));
            }
            LogOpened(log, options.Directory, scanner.Records, index.Count, segments.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return new FileEventLog(options, directoryLock, segments, index, log, metrics) { RecordsAtOpen = scanner.Records };
        }
        catch (EventLogException error)
        {
            metrics?.Failed(Store, error.Error);
            Release(segments, directoryLock);
            throw;
        }
        catch
        {
            Release(segments, directoryLock);
            throw;
        }
    }

    private static void Release(List<SegmentFile> segments, DirectoryLock directoryLock)
    {
        foreach (var segment in segments)
        {
            segment.Dispose();
        }
        directoryLock.Dispose();
    }

    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        List<List<EventRecord>> groups;
        try
        {
            ThrowIfFailed();
            if (IsSnapshot)
            {
                throw new EventLogException(EventLogError.Invalid, $"The event log in {_options.Directory} was opened as a read-only snapshot: nothing can be appended through it.");
            }
            groups = AppendBatch.ByPartition(records);
        }
        catch (EventLogException error)
        {
            _metrics?.Failed(Store, error.Error);
            throw;
        }
        if (groups.Count == 0)
        {
            return new AppendResult(0, 0);
        }
        var pending = new PendingAppend(groups);
        await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        // Not cancellable once queued: the writer may already be writing it, and the caller must
        // learn whether it is durable.
        return await pending.Completion.Task.ConfigureAwait(false);
    }

    /// <summary>The partitions the log holds records of (a snapshot).</summary>
    public IReadOnlyList<int> Partitions
    {
        get
        {
            lock (_indexLock)
            {
                return [.. _index.Keys.Order()];
            }
        }
    }

    public Task<long> GetLastSequenceAsync(int partition, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_indexLock)
        {
            return Task.FromResult(_index.TryGetValue(partition, out var index) ? index.Durable : 0);
        }
    }

    public async IAsyncEnumerable<EventRecord> ReadAsync(int partition, long fromSequence = 1, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(fromSequence, 1);
        long last;
        lock (_indexLock)
        {
            last = _index.TryGetValue(partition, out var index) ? index.Durable : 0;
        }
        var positions = new long[ReadChunkRecords];
        for (var sequence = fromSequence; sequence <= last;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count;
            lock (_indexLock)
            {
                count = _index[partition].CopyDurable(sequence, positions.AsSpan(0, (int)Math.Min(ReadChunkRecords, last - sequence + 1)));
            }
            for (var i = 0; i < count; i++, sequence++)
            {
                yield return ReadAt(positions[i], partition, sequence);
            }
            await Task.Yield();
        }
    }

    /// <summary>The record at <paramref name="position"/>, which the index says is (<paramref name="partition"/>, <paramref name="sequence"/>); anything else there is named.</summary>
    private EventRecord ReadAt(long position, int partition, long sequence)
    {
        var (number, offset) = SegmentFile.Unpack(position);
        SegmentFile segment;
        lock (_indexLock)
        {
            segment = _segments[(int)(number - _segments[0].Number)];
        }
        var (status, record, version) = ReadFrame(segment, offset);
        var location = SegmentScanner.Location(segment, offset);
        if (status != FrameStatus.Ok)
        {
            throw Failed(new EventLogException(RecordFrame.ErrorOf(status),
                $"Partition {partition} sequence {sequence} at {segment.Path} offset {offset}: {RecordFrame.Describe(status, version)}; the read stops here.",
                partition, sequence, location));
        }
        if (record!.Partition != partition || record.Sequence != sequence)
        {
            throw Failed(new EventLogException(EventLogError.Corrupt,
                $"Partition {partition} sequence {sequence} at {segment.Path} offset {offset}: found partition {record.Partition} sequence {record.Sequence} instead; the read stops here.",
                partition, sequence, location));
        }
        return record;
    }

    private static (FrameStatus Status, EventRecord? Record, byte Version) ReadFrame(SegmentFile segment, long offset)
    {
        Span<byte> header = stackalloc byte[RecordFrame.HeaderBytes];
        var read = RandomAccess.Read(segment.Handle, header, offset);
        if (RecordFrame.FrameLength(header[..read]) is not { } length)
        {
            return (read < header.Length ? FrameStatus.Incomplete : FrameStatus.BadLength, null, header[4]);
        }
        var frame = new byte[length];
        read = RandomAccess.Read(segment.Handle, frame, offset);
        var status = RecordFrame.TryDecode(frame.AsSpan(0, read), out var record, out _, out var version);
        return (status, record, version);
    }

    private EventLogException Failed(EventLogException error)
    {
        _metrics?.Failed(Store, error.Error);
        return error;
    }

    private void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw new EventLogException(EventLogError.Failed, failure.Message, innerException: failure);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Writer.TryComplete();
        if (_writer is { } writer)
        {
            await Task.Run(writer.Join).ConfigureAwait(false);
        }
        foreach (var segment in _segments)
        {
            segment.Dispose();
        }
        _lock?.Dispose();
    }

    private sealed class PendingAppend(List<List<EventRecord>> groups)
    {
        public List<List<EventRecord>> Groups { get; } = groups;

        public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Event log {Directory}: torn tail truncated in {Segment} at offset {Offset} ({Bytes} bytes dropped: {Reason}); the write a crash interrupted, never acknowledged")]
    private static partial void LogTornTailTruncated(ILogger logger, string directory, string segment, long offset, long bytes, string reason);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Information, Message = "Event log {Directory} opened: {Records} records in {Partitions} partitions, {Segments} segments, read in {Milliseconds:F0} ms")]
    private static partial void LogOpened(ILogger logger, string directory, long records, int partitions, int segments, double milliseconds);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Critical, Message = "Event log {Directory}: a write or sync failed; appends are refused until the log is reopened")]
    private static partial void LogWriteFailed(ILogger logger, string directory, Exception error);
}
