using System.Collections.Immutable;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Engine;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger;

/// <summary>What a copy being imported holds, and the ids the source must refresh for it.</summary>
public sealed record ImportProgressInfo(PartitionImportRecord Record, IReadOnlyList<UInt128> PendingHolds, IReadOnlyList<UInt128> OpenOwedLegs);

/// <summary>
/// The steps of moving a partition between cells (docs/internals/cells.md, "Moving a partition"):
/// each runs on the writer alone (<see cref="LedgerWriter"/>), except the export, which reads a
/// snapshot beside it. A step refused because the cell is not in the state it expects throws
/// <see cref="LedgerMoveRefusedException"/> naming why; nothing was written.
/// </summary>
public sealed partial class LedgerEngine
{
    /// <summary>The copies this cell is importing, by partition.</summary>
    public ImmutableDictionary<int, PartitionImportRecord> Imports => _writer.Imports;

    public Task<PartitionImportRecord> BeginImportAsync(int partition, string sourceCell, long sourceEpoch, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceCell);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceEpoch, 1);
        if (sourceCell == _options.CellName)
        {
            throw new LedgerMoveRefusedException($"cell {sourceCell} cannot import partition {partition} from itself.");
        }
        return ControlAsync(() => _writer.BeginImport(partition, sourceCell, sourceEpoch), cancellationToken);
    }

    public async Task<ImportProgressInfo> GetImportProgressAsync(int partition, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        if (!Imports.TryGetValue(partition, out var record))
        {
            throw new LedgerMoveRefusedException($"cell {_options.CellName} is not importing partition {partition}.");
        }
        var (holds, owed) = await _store.GetOpenIdsAsync(partition, cancellationToken);
        return new ImportProgressInfo(record, holds, owed);
    }

    /// <summary>
    /// The rows of a partition this cell holds authoritatively (owned, paused, or released and
    /// frozen since) for a copy elsewhere: see <see cref="ILedgerStore.ExportPartitionAsync"/>.
    /// </summary>
    public Task<PartitionRowSet> ExportPartitionAsync(int partition, long afterSequence, int limit,
        IReadOnlyCollection<UInt128> refreshHolds, IReadOnlyCollection<UInt128> refreshOwedLegs, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        ArgumentNullException.ThrowIfNull(refreshHolds);
        ArgumentNullException.ThrowIfNull(refreshOwedLegs);
        if (limit is < 0 or > LedgerLimits.MoveRowsPerChunk)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be 0 (default) to {LedgerLimits.MoveRowsPerChunk}.");
        }
        if (refreshHolds.Count + refreshOwedLegs.Count > LedgerLimits.MoveRowsPerChunk * 20)
        {
            throw new ArgumentOutOfRangeException(nameof(refreshHolds), "Too many ids to refresh in one export.");
        }
        var row = Ownership[partition];
        if (row.State == OwnershipState.None)
        {
            throw new LedgerMoveRefusedException($"cell {_options.CellName} does not own partition {partition}: export it from its owner.");
        }
        return ExportCheckedAsync(partition, afterSequence, limit == 0 ? LedgerLimits.MoveRowsPerChunk : limit, refreshHolds, refreshOwedLegs, cancellationToken);
    }

    private async Task<PartitionRowSet> ExportCheckedAsync(int partition, long afterSequence, int limit,
        IReadOnlyCollection<UInt128> refreshHolds, IReadOnlyCollection<UInt128> refreshOwedLegs, CancellationToken cancellationToken)
    {
        // A copy's first chunk: a partition holding a transfer written as one row with another
        // partition (before cells) cannot move whole: the row's other side, its balance, would stay
        // behind, and neither cell would sum to zero.
        if (afterSequence == 0 && await _store.FindRowAcrossPartitionsAsync(partition, cancellationToken) is { } across)
        {
            throw new LedgerMoveRefusedException(
                $"partition {partition} holds transfer {across:x32}, written before cells as one row with an account of another partition: a partition moves whole, so it cannot move until such rows are split into legs (not built yet; see docs/internals/cells.md, 'Data from before cells').");
        }
        return await _store.ExportPartitionAsync(partition, afterSequence, limit, refreshHolds, refreshOwedLegs, cancellationToken);
    }

    public Task<PartitionImportRecord> ImportPartitionAsync(int partition, string sourceCell, long sourceEpoch, PartitionRowSet rows, long expectedWatermark,
        CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Transfers.Count > LedgerLimits.MoveRowsPerChunk)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows.Transfers.Count, $"At most {LedgerLimits.MoveRowsPerChunk} transfer rows per import.");
        }
        return ControlAsync(() => _writer.Import(partition, rows, expectedWatermark, sourceCell, sourceEpoch), cancellationToken);
    }

    public Task<PartitionOwnership> PausePartitionAsync(int partition, long epoch, string targetCell, int leaseMilliseconds, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        ArgumentException.ThrowIfNullOrWhiteSpace(targetCell);
        if (leaseMilliseconds is < 1 or > LedgerLimits.MovePauseLeaseMillisecondsMax)
        {
            throw new ArgumentOutOfRangeException(nameof(leaseMilliseconds), leaseMilliseconds, $"The pause's lease is 1 to {LedgerLimits.MovePauseLeaseMillisecondsMax} ms.");
        }
        return ControlAsync(() => _writer.Pause(partition, epoch, targetCell, leaseMilliseconds), cancellationToken);
    }

    public Task<PartitionOwnership> ResumePartitionAsync(int partition, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        return ControlAsync(() => _writer.Resume(partition), cancellationToken);
    }

    public Task<PartitionDigestValue> DigestPartitionAsync(int partition, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        return ControlAsync(() => _writer.Digest(partition), cancellationToken);
    }

    /// <summary>
    /// Hashes the settled part of the partition's digest now, on a reader beside the writer, and
    /// keeps it, so that the digests of a move's pause (the source's, the copy's verify) hash only
    /// what may still change. Returns what it hashed; false in Kept when rows of the partition were
    /// deleted meanwhile, or something beside the writer committed to the store (a digest then
    /// hashes everything, as without it).
    /// </summary>
    public async Task<(PartitionDigestPrefix Prefix, bool Kept)> PrepareDigestAsync(int partition, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        var before = await ControlAsync(() => _writer.BeforePrefix(partition), cancellationToken);
        var prefix = await _store.DigestSettledAsync(partition, cancellationToken);
        var kept = await ControlAsync(() => _writer.KeepPrefix(prefix, before), cancellationToken);
        return (prefix, kept);
    }

    public Task<PartitionImportRecord> VerifyImportAsync(int partition, string sourceCell, long sourceEpoch, PartitionDigestValue sourceDigest, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        ArgumentNullException.ThrowIfNull(sourceDigest);
        return ControlAsync(() => _writer.Verify(partition, sourceCell, sourceEpoch, sourceDigest), cancellationToken);
    }

    public Task<PartitionOwnership> ReleasePartitionAsync(int partition, long epoch, string targetCell, byte[] sha256, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        ArgumentNullException.ThrowIfNull(sha256);
        return ControlAsync(() => _writer.Release(partition, epoch, targetCell, sha256), cancellationToken);
    }

    public Task<PartitionOwnership> OwnPartitionAsync(int partition, string sourceCell, long sourceEpoch, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        return ControlAsync(() => _writer.Own(partition, sourceCell, sourceEpoch), cancellationToken);
    }

    /// <summary>
    /// Deletes this cell's rows of a partition it does not own (released after the grace period, or
    /// an import given up with <paramref name="abortImport"/>), a chunk per writer turn so that
    /// batches keep flowing between them. Returns the rows deleted.
    /// </summary>
    public async Task<long> DropPartitionCopyAsync(int partition, bool abortImport, CancellationToken cancellationToken = default)
    {
        CheckPartition(partition);
        long total = 0;
        var first = true;
        while (true)
        {
            var abort = abortImport && first;
            var deleted = await ControlAsync(() => _writer.DropCopy(partition, LedgerLimits.MoveRowsPerChunk, abort), cancellationToken);
            first = false;
            total += deleted;
            if (deleted < LedgerLimits.MoveRowsPerChunk)
            {
                return total;
            }
        }
    }

    /// <summary>The last event number this store gave each partition it owns (read between batches).</summary>
    public Task<IReadOnlyDictionary<int, long>> OwnedPartitionSequencesAsync(CancellationToken cancellationToken = default) =>
        ControlAsync(_writer.OwnedPartitionSequences, cancellationToken);

    /// <summary>
    /// Refuses <paramref name="partitions"/> from now on (until the process restarts): the event log
    /// holds more of their history than this store (<see cref="Cells.CellOwnership.BehindLog"/>).
    /// Returns those newly refused.
    /// </summary>
    public Task<IReadOnlyList<int>> RefuseBehindLogAsync(IReadOnlyCollection<int> partitions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        return ControlAsync(() => _writer.RefuseBehindLog(partitions), cancellationToken);
    }

    private async Task<T> ControlAsync<T>(Func<T> step, CancellationToken cancellationToken)
    {
        var control = new ControlSubmission(() => step());
        await EnqueueAsync(control, WriterItemKind.Control, 1, cancellationToken);
        return (T)control.Result!;
    }

    private void CheckPartition(int partition)
    {
        if (partition < 0 || partition >= _options.PartitionCount)
        {
            throw new ArgumentOutOfRangeException(nameof(partition), partition, $"partition must be 0 to {_options.PartitionCount - 1}.");
        }
    }
}
