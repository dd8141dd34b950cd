namespace Bulwark.EventLog.Files;

/// <summary>
/// Where each record of one partition is: positions[sequence - 1] (sequences start at 1 with no
/// gaps, so the array is the index). Written counts records the writer has put in files,
/// Durable those synced; readers see Durable only. Callers hold the log's index lock.
/// </summary>
internal sealed class PartitionIndex
{
    private long[] _positions = new long[16];

    public long Written { get; private set; }

    public long Durable { get; set; }

    public void Add(long position)
    {
        if (Written == _positions.Length)
        {
            Array.Resize(ref _positions, _positions.Length * 2);
        }
        _positions[Written++] = position;
    }

    public long PositionOf(long sequence) => _positions[sequence - 1];

    /// <summary>Copies the positions of sequences from <paramref name="fromSequence"/> (durable ones only) into <paramref name="destination"/>; returns how many.</summary>
    public int CopyDurable(long fromSequence, Span<long> destination)
    {
        var available = Durable - (fromSequence - 1);
        if (available <= 0)
        {
            return 0;
        }
        var count = (int)Math.Min(available, destination.Length);
        _positions.AsSpan((int)(fromSequence - 1), count).CopyTo(destination);
        return count;
    }
}
