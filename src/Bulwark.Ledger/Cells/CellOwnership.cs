using System.Collections.Immutable;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Cells;

/// <summary>How a cell holds one partition, as its own store records it.</summary>
public enum OwnershipState
{
    /// <summary>Never owned here (the store may still hold a copy being imported).</summary>
    None = 0,

    /// <summary>Owned and served: reads and writes.</summary>
    Owned = 1,

    /// <summary>Owned but being handed over: refused with MOVING until the move flips or rolls back.</summary>
    Moving = 2,

    /// <summary>Moved to <see cref="PartitionOwnership.OwnerCell"/>: refused with NOT_OWNER naming it.</summary>
    Released = 3,
}

/// <summary>
/// One row of a cell's ownership table. MOVING: <paramref name="OwnerCell"/> and
/// <paramref name="OwnerEpoch"/> name the cell it is handed to and the epoch it will own it at, and
/// the pause ends by itself at <paramref name="LeaseUntilUnixMs"/>. RELEASED: they name the new owner.
/// </summary>
public readonly record struct PartitionOwnership(int Partition, long Epoch, OwnershipState State, string OwnerCell, long OwnerEpoch, long LeaseUntilUnixMs = 0);

/// <summary>Why a cell did not serve a partition, as the contract's <see cref="PartitionRefusal"/> carries it.</summary>
public readonly record struct LedgerRefusal(int Partition, RefusalReason Reason, string OwnerCell, long OwnerEpoch);

/// <summary>
/// What one cell owns: an immutable snapshot, swapped whole when ownership changes, so that any
/// thread reads a consistent view without locks. The cell's own store is the truth for what it
/// serves (docs/internals/cells.md): a partition is served only while this says Owned.
/// </summary>
public sealed class CellOwnership
{
    private readonly PartitionOwnership[] _partitions;
    private readonly ImmutableHashSet<int> _behindLog;

    public CellOwnership(string cell, string clusterId, int partitionCount, IEnumerable<PartitionOwnership> rows, ImmutableHashSet<int>? behindLog = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cell);
        ArgumentNullException.ThrowIfNull(rows);
        Cell = cell;
        ClusterId = clusterId ?? "";
        _behindLog = behindLog ?? [];
        _partitions = new PartitionOwnership[partitionCount];
        for (var partition = 0; partition < partitionCount; partition++)
        {
            _partitions[partition] = new PartitionOwnership(partition, 0, OwnershipState.None, "", 0);
        }
        foreach (var row in rows)
        {
            if (row.Partition < 0 || row.Partition >= partitionCount)
            {
                throw new InvalidDataException($"The cell's ownership table names partition {row.Partition}, outside 0..{partitionCount - 1}.");
            }
            _partitions[row.Partition] = row;
        }
        var owned = 0;
        foreach (var row in _partitions)
        {
            if (row.State is OwnershipState.Owned or OwnershipState.Moving)
            {
                owned++;
            }
        }
        OwnedCount = owned;
        ServesAll = _behindLog.IsEmpty && Array.TrueForAll(_partitions, row => row.State == OwnershipState.Owned);
        AnsweredPartitions = BuildAnswered();
    }

    public string Cell { get; }

    public string ClusterId { get; }

    public int PartitionCount => _partitions.Length;

    /// <summary>Partitions owned (served, or paused for a move).</summary>
    public int OwnedCount { get; }

    /// <summary>True when this cell owns and serves every partition: nothing can be somebody else's.</summary>
    public bool ServesAll { get; }

    /// <summary>Bit p set when partition p is served now (the contract's answered_partitions).</summary>
    public byte[] AnsweredPartitions { get; }

    public PartitionOwnership this[int partition] => _partitions[partition];

    public IReadOnlyList<PartitionOwnership> Rows => _partitions;

    /// <summary>
    /// Owned partitions this cell refuses because its store is behind the event log for them: the
    /// log holds events of theirs the store does not (a store restored from an old backup, a disk
    /// rolled back). Served, they would answer accounts that exist "not found" and old balances —
    /// the 2019 failure. Found by the relay when it starts (<c>LedgerEventRelay</c>), in memory
    /// only: a store rebuilt from the log is checked again at its next start.
    /// </summary>
    public IReadOnlySet<int> BehindLog => _behindLog;

    /// <summary>Whether reads and writes of <paramref name="partition"/> are served here now.</summary>
    public bool Serves(int partition) => _partitions[partition].State == OwnershipState.Owned && !_behindLog.Contains(partition);

    /// <summary>
    /// Null when the partition is served at an epoch no older than the caller's
    /// <paramref name="callerEpoch"/> (0: the caller named none); else why not.
    /// </summary>
    public LedgerRefusal? Refusal(int partition, long callerEpoch = 0)
    {
        var row = _partitions[partition];
        return row.State switch
        {
            // Owned but not served: no owner to name (the map's is this cell), so not-owner with none,
            // as for a store that owns nothing yet; callers retry, and never read "not found".
            OwnershipState.Owned when _behindLog.Contains(partition) => new LedgerRefusal(partition, RefusalReason.NotOwner, "", 0),
            OwnershipState.Owned when callerEpoch > row.Epoch => new LedgerRefusal(partition, RefusalReason.EpochAhead, Cell, row.Epoch),
            OwnershipState.Owned => null,
            OwnershipState.Moving => new LedgerRefusal(partition, RefusalReason.Moving, Cell, row.Epoch),
            OwnershipState.Released => new LedgerRefusal(partition, RefusalReason.NotOwner, row.OwnerCell, row.OwnerEpoch),
            _ => new LedgerRefusal(partition, RefusalReason.NotOwner, "", 0),
        };
    }

    /// <summary>
    /// Whether <paramref name="partition"/> was served through the whole time between two snapshots:
    /// served in both with the same row. Ownership only moves forward (owned, paused, released; a
    /// partition coming back comes at a higher epoch), so equal rows mean nothing happened to it in
    /// between — a read that found nothing then may say "not found"; otherwise it must refuse.
    /// </summary>
    public static bool ServedThroughout(CellOwnership before, CellOwnership after, int partition)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        return before.Serves(partition) && (ReferenceEquals(before, after) || (before[partition] == after[partition] && after.Serves(partition)));
    }

    /// <summary>The refusal for a partition that was not served throughout a read: the latest snapshot's, or MOVING when it is served again at another epoch.</summary>
    public static LedgerRefusal RefusalAfter(CellOwnership after, int partition)
    {
        ArgumentNullException.ThrowIfNull(after);
        return after.Refusal(partition) ?? new LedgerRefusal(partition, RefusalReason.Moving, after.Cell, after[partition].Epoch);
    }

    /// <summary>The answered_partitions bitmap of a read between two snapshots: partitions served throughout it.</summary>
    public static byte[] AnsweredThroughout(CellOwnership before, CellOwnership after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (ReferenceEquals(before, after))
        {
            return before.AnsweredPartitions;
        }
        var bitmap = new byte[(before.PartitionCount + 7) / 8];
        for (var partition = 0; partition < before.PartitionCount; partition++)
        {
            if (ServedThroughout(before, after, partition))
            {
                bitmap[partition / 8] |= (byte)(1 << (partition % 8));
            }
        }
        return bitmap;
    }

    /// <summary>This snapshot with one row replaced.</summary>
    public CellOwnership With(PartitionOwnership row)
    {
        var rows = (PartitionOwnership[])_partitions.Clone();
        rows[row.Partition] = row;
        return new CellOwnership(Cell, ClusterId, _partitions.Length, rows, _behindLog);
    }

    /// <summary>This snapshot with <paramref name="partitions"/> refused as behind the event log (see <see cref="BehindLog"/>).</summary>
    public CellOwnership WithBehindLog(IEnumerable<int> partitions) =>
        new(Cell, ClusterId, _partitions.Length, _partitions, _behindLog.Union(partitions));

    private byte[] BuildAnswered()
    {
        var bitmap = new byte[(_partitions.Length + 7) / 8];
        for (var partition = 0; partition < _partitions.Length; partition++)
        {
            if (Serves(partition))
            {
                bitmap[partition / 8] |= (byte)(1 << (partition % 8));
            }
        }
        return bitmap;
    }
}
