using Microsoft.Extensions.Logging;

namespace Bulwark.EventLog.Files;

/// <summary>The writer thread: group commit of queued appends.</summary>
public sealed partial class FileEventLog
{
    private void WriteLoop()
    {
        var reader = _queue.Reader;
        var group = new List<PendingAppend>(EventLogLimits.FileGroupAppendsMax);
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (group.Count < EventLogLimits.FileGroupAppendsMax && reader.TryRead(out var pending))
            {
                group.Add(pending);
            }
            WriteGroup(group);
            group.Clear();
        }
    }

    /// <summary>
    /// Checks and writes each append of the group, syncs every segment written once, then makes
    /// the new records visible and completes the appends. A refused append (gap, conflict) writes
    /// nothing and fails alone; a failed write or sync fails the whole group and the log.
    /// </summary>
    private void WriteGroup(List<PendingAppend> group)
    {
        var written = new List<(PendingAppend Append, AppendResult Result, long Bytes)>(group.Count);
        var touchedSegments = new HashSet<SegmentFile>();
        var touchedPartitions = new HashSet<PartitionIndex>();
        foreach (var pending in group)
        {
            try
            {
                ThrowIfFailed();
                var (result, bytes) = WriteAppend(pending.Groups, touchedSegments, touchedPartitions);
                written.Add((pending, result, bytes));
            }
            catch (EventLogException error)
            {
                _metrics?.Failed(Store, error.Error);
                pending.Completion.TrySetException(error);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                Fail(error);
                pending.Completion.TrySetException(_failure!);
            }
        }
        try
        {
            foreach (var segment in touchedSegments)
            {
                RandomAccess.FlushToDisk(segment.Handle);
            }
            if (touchedSegments.Count > 0)
            {
                _metrics?.Synced();
            }
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Fail(error);
        }
        if (_failure is { } failure)
        {
            foreach (var (append, _, _) in written)
            {
                append.Completion.TrySetException(failure);
            }
            return;
        }
        lock (_indexLock)
        {
            foreach (var partition in touchedPartitions)
            {
                partition.Durable = partition.Written;
            }
        }
        foreach (var (append, result, bytes) in written)
        {
            _metrics?.Appended(Store, result.Appended, result.Duplicates, bytes);
            append.Completion.TrySetResult(result);
        }
    }

    private void Fail(Exception error)
    {
        _failure ??= new EventLogException(EventLogError.Failed,
            $"The event log in {_options.Directory} failed to write or sync ({error.Message}); it refuses appends until it is reopened, which reads what is really on disk.",
            innerException: error);
        _metrics?.Failed(Store, EventLogError.Failed);
        LogWriteFailed(_logger, _options.Directory, error);
    }

    /// <summary>Checks every partition's records against what is stored (nothing written yet), then writes the new ones in one write.</summary>
    private (AppendResult Result, long Bytes) WriteAppend(List<List<EventRecord>> groups, HashSet<SegmentFile> touchedSegments, HashSet<PartitionIndex> touchedPartitions)
    {
        var fresh = new List<EventRecord>();
        var duplicates = 0;
        foreach (var records in groups)
        {
            var partition = PartitionOf(records[0].Partition, create: false);
            var last = partition?.Written ?? 0;
            AppendBatch.CheckNoGap(records, last);
            foreach (var record in records)
            {
                if (record.Sequence > last)
                {
                    fresh.Add(record);
                    continue;
                }
                var position = partition!.PositionOf(record.Sequence);
                var stored = ReadAt(position, record.Partition, record.Sequence);
                if (!stored.HasSameBody(record))
                {
                    var (number, offset) = SegmentFile.Unpack(position);
                    throw AppendBatch.Conflict(record, stored, $"{SegmentFile.FileName(number)} offset {offset}");
                }
                duplicates++;
            }
        }
        if (fresh.Count == 0)
        {
            return (new AppendResult(0, duplicates), 0);
        }
        var buffer = new byte[fresh.Sum(RecordFrame.EncodedLength)];
        var segment = SegmentFor(buffer.Length);
        var start = segment.Length;
        var offsets = new long[fresh.Count];
        var at = 0;
        for (var i = 0; i < fresh.Count; i++)
        {
            offsets[i] = start + at;
            at += RecordFrame.Encode(fresh[i], buffer.AsSpan(at));
        }
        RandomAccess.Write(segment.Handle, buffer, start);
        segment.Length = start + buffer.Length;
        touchedSegments.Add(segment);
        lock (_indexLock)
        {
            for (var i = 0; i < fresh.Count; i++)
            {
                var partition = PartitionOf(fresh[i].Partition, create: true)!;
                partition.Add(SegmentFile.Position(segment.Number, offsets[i]));
                touchedPartitions.Add(partition);
            }
        }
        return (new AppendResult(fresh.Count, duplicates), buffer.Length);
    }

    private PartitionIndex? PartitionOf(int partition, bool create)
    {
        lock (_indexLock)
        {
            if (!_index.TryGetValue(partition, out var index) && create)
            {
                index = new PartitionIndex();
                _index.Add(partition, index);
            }
            return index;
        }
    }

    /// <summary>The segment to write <paramref name="bytes"/> into: the last one, or a new one when the last would pass the segment size (and holds a record already).</summary>
    private SegmentFile SegmentFor(int bytes)
    {
        var last = _segments[^1];
        if (last.Length <= SegmentFile.HeaderBytes || last.Length + bytes <= _options.SegmentBytes)
        {
            return last;
        }
        // The segment being closed is synced with the group (it is in the group's touched set, or
        // was synced by an earlier group).
        var next = SegmentFile.Create(_options.Directory, last.Number + 1);
        lock (_indexLock)
        {
            _segments.Add(next);
        }
        return next;
    }
}
