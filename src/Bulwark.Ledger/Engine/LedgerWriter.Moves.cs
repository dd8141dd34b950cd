using System.Collections.Immutable;
using System.Globalization;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Storage;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Engine;

/// <summary>
/// The steps of moving a partition (docs/internals/cells.md, "Moving a partition"), each run by the
/// writer alone between batches, so that no batch is decided on ownership that a step is changing.
/// Every step checks the state it expects, writes its change in one store transaction and only then
/// swaps the in-memory snapshot; a step asked again after it happened answers as it did.
/// </summary>
internal sealed partial class LedgerWriter
{
    private ImmutableDictionary<int, PartitionImportRecord> _imports = ImmutableDictionary<int, PartitionImportRecord>.Empty;
    private int[] _copiesNotServed = [];
    private long _pauseDeadline;

    /// <summary>Partitions whose rows the store holds without this cell serving them (any thread: a snapshot).</summary>
    public IReadOnlyCollection<int> CopiesNotServed => Volatile.Read(ref _copiesNotServed);

    /// <summary>The copies this cell is importing, by partition.</summary>
    public ImmutableDictionary<int, PartitionImportRecord> Imports => Volatile.Read(ref _imports);

    private void LoadMoves()
    {
        var record = _store.LoadCell();
        _imports = record is null ? ImmutableDictionary<int, PartitionImportRecord>.Empty : record.Imports.ToImmutableDictionary(import => import.Partition);
        MovesChanged();
    }

    private void MovesChanged()
    {
        var ownership = _ownership;
        // Rows the store holds without serving them: copies being imported, partitions paused or
        // given away, partitions behind the event log (nothing may write to them: not a sweep's
        // expiry, not an owed leg's settlement).
        var copies = ownership.Rows
            .Where(row => row.State is OwnershipState.Moving or OwnershipState.Released)
            .Select(row => row.Partition)
            .Concat(_imports.Keys)
            .Concat(ownership.BehindLog)
            .Distinct()
            .Order()
            .ToArray();
        Volatile.Write(ref _copiesNotServed, copies);
        var deadline = 0L;
        foreach (var row in ownership.Rows)
        {
            if (row.State == OwnershipState.Moving && (deadline == 0 || row.LeaseUntilUnixMs < deadline))
            {
                deadline = row.LeaseUntilUnixMs;
            }
        }
        _pauseDeadline = deadline;
    }

    private void RunControl(WriterItem item)
    {
        var control = (ControlSubmission)item.Owner!;
        if (control.HasFailed)
        {
            return;
        }
        try
        {
            if (!_cacheValid)
            {
                Load();
            }
            _now = Math.Max(_time.GetUtcNow().ToUnixTimeMilliseconds(), _lastTimestampUnixMs);
            control.Result = control.Action();
            control.ItemCommitted();
        }
        catch (LedgerMoveRefusedException refused)
        {
            control.Fail(refused);
        }
        catch (Exception error)
        {
            LogMoveStepFailed(error);
            control.Fail(new LedgerUnavailableException("The ledger could not write this move step; nothing of it was written. Run the move again to resume it.", error));
            _cacheValid = false;
        }
    }

    /// <summary>A pause whose lease ran out (its mover died or stalled) is rolled back: the partition is served again.</summary>
    private void ResumeExpiredPauses()
    {
        if (_pauseDeadline == 0 || _time.GetUtcNow().ToUnixTimeMilliseconds() < _pauseDeadline)
        {
            return;
        }
        try
        {
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var row in _ownership.Rows)
            {
                if (row.State == OwnershipState.Moving && row.LeaseUntilUnixMs <= now)
                {
                    SetOwner(row with { State = OwnershipState.Owned, OwnerCell = "", OwnerEpoch = 0, LeaseUntilUnixMs = 0 });
                    _metrics.MoveStep("pause_expired");
                    LogPauseExpired(row.Partition, row.OwnerCell);
                }
            }
        }
        catch (Exception error)
        {
            // Still paused (callers keep getting MOVING); tried again before the next batch.
            LogMoveStepFailed(error);
        }
    }

    public PartitionImportRecord BeginImport(int partition, string sourceCell, long sourceEpoch)
    {
        var row = _ownership[partition];
        if (row.State is OwnershipState.Owned or OwnershipState.Moving)
        {
            throw Refused($"cell {_ownership.Cell} owns partition {partition} (epoch {row.Epoch}): it cannot import it.");
        }
        if (_imports.TryGetValue(partition, out var existing))
        {
            if (existing.SourceCell == sourceCell && existing.SourceEpoch == sourceEpoch)
            {
                return existing;
            }
            LogImportReplaced(partition, existing.SourceCell, existing.SourceEpoch, sourceCell, sourceEpoch);
        }
        // A copy left from an earlier stint here (a partition released, or an abandoned import) goes first.
        DeleteRows(partition, int.MaxValue);
        var import = new PartitionImportRecord(partition, sourceCell, sourceEpoch, 0, ImportRecordState.Copying, []);
        _store.SaveMoveStep(new MoveStep { Import = import });
        SetImports(_imports.SetItem(partition, import));
        _metrics.MoveStep("import_begun");
        return import;
    }

    public PartitionImportRecord Import(int partition, PartitionRowSet rows, long expectedWatermark, string sourceCell, long sourceEpoch)
    {
        var import = ExpectImport(partition, sourceCell, sourceEpoch);
        if (import.Watermark != expectedWatermark)
        {
            throw Refused(string.Create(CultureInfo.InvariantCulture,
                $"the copy of partition {partition} is at the source's sequence {import.Watermark}, and these rows follow {expectedWatermark}: read the import progress and export again from there."));
        }
        var renumbered = new LedgerTransfer[rows.Transfers.Count];
        var sequence = _sequence;
        var lastTimestamp = _lastTimestampUnixMs;
        for (var i = 0; i < renumbered.Length; i++)
        {
            var row = rows.Transfers[i];
            if (row.PartitionOf(_options.PartitionCount) != partition)
            {
                throw Refused($"an exported row ({row.Id:x32}, {row.Leg}) is not in partition {partition}.");
            }
            renumbered[i] = row with { Sequence = ++sequence };
            lastTimestamp = Math.Max(lastTimestamp, row.TimestampUnixMs);
        }
        foreach (var account in rows.Accounts)
        {
            if (LedgerPartitioner.PartitionOf(account.Id, _options.PartitionCount) != partition)
            {
                throw Refused($"an exported account {account.Id:x32} is not in partition {partition}.");
            }
        }
        // New rows change the copy: a verified copy is verified again.
        var next = import with
        {
            Watermark = rows.Watermark,
            // Rows written change the copy: it is verified again before it may be owned.
            State = ImportRecordState.Copying,
            Digest = [],
        };
        NoteChanged(partition);
        _store.ImportPartitionRows(partition, rows with { Transfers = renumbered }, next);
        _sequence = sequence;
        _lastTimestampUnixMs = lastTimestamp;
        SetImports(_imports.SetItem(partition, next));
        return next;
    }

    /// <summary>The event numbers this store gave the partitions it owns (served or paused), for the relay's check against the log.</summary>
    public IReadOnlyDictionary<int, long> OwnedPartitionSequences()
    {
        var sequences = new Dictionary<int, long>();
        foreach (var row in _ownership.Rows)
        {
            if (row.State is OwnershipState.Owned or OwnershipState.Moving)
            {
                sequences[row.Partition] = _events.PartitionSequence(row.Partition);
            }
        }
        return sequences;
    }

    /// <summary>
    /// Stops serving <paramref name="partitions"/>, whose history the event log holds further than
    /// this store (<see cref="CellOwnership.BehindLog"/>). Returns those newly refused.
    /// </summary>
    public IReadOnlyList<int> RefuseBehindLog(IReadOnlyCollection<int> partitions)
    {
        var added = partitions.Where(partition => !_ownership.BehindLog.Contains(partition)).Order().ToArray();
        if (added.Length > 0)
        {
            Ownership = _ownership.WithBehindLog(added);
            MovesChanged();
        }
        return added;
    }

    public PartitionOwnership Pause(int partition, long epoch, string targetCell, int leaseMilliseconds)
    {
        var row = _ownership[partition];
        if (_ownership.BehindLog.Contains(partition))
        {
            // Its copy would carry what the store lacks to another cell, verified against this one.
            throw Refused($"partition {partition} is behind the event log in cell {_ownership.Cell}'s store (restored from an old copy?): it is not served and cannot be moved. Rebuild the cell from the log (docs/runbooks/ledger-replay.md).");
        }
        if (row.State == OwnershipState.Moving && row.Epoch == epoch && row.OwnerCell == targetCell)
        {
            // Asked again (a resumed mover): the lease starts again.
            return SetOwner(row with { LeaseUntilUnixMs = WallClock() + leaseMilliseconds });
        }
        if (row.State != OwnershipState.Owned || row.Epoch != epoch)
        {
            throw Refused(row.State == OwnershipState.Moving
                ? $"partition {partition} is already paused for a move to cell {row.OwnerCell}."
                : Describe(partition, row, $"pause it at epoch {epoch}"));
        }
        var paused = SetOwner(row with { State = OwnershipState.Moving, OwnerCell = targetCell, OwnerEpoch = epoch + 1, LeaseUntilUnixMs = WallClock() + leaseMilliseconds });
        _metrics.MoveStep("paused");
        return paused;
    }

    public PartitionOwnership Resume(int partition)
    {
        var row = _ownership[partition];
        if (row.State == OwnershipState.Owned)
        {
            return row;
        }
        if (row.State != OwnershipState.Moving)
        {
            throw Refused(Describe(partition, row, "serve it again"));
        }
        var resumed = SetOwner(row with { State = OwnershipState.Owned, OwnerCell = "", OwnerEpoch = 0, LeaseUntilUnixMs = 0 });
        _metrics.MoveStep("resumed");
        return resumed;
    }

    /// <summary>
    /// The last digest taken of each partition, with the partition's change count then: a release
    /// or an own right after it needs only the count to know the rows are still the ones hashed.
    /// </summary>
    private readonly Dictionary<int, (long Changes, PartitionDigestValue Digest)> _digested = [];

    /// <summary>
    /// The settled part of each partition's digest taken beforehand (a move takes it before its
    /// pause), so that the writer hashes only the rest: forgotten when rows of the partition are
    /// deleted (<see cref="_deletions"/> tells a prefix read across a deletion), lost on a restart.
    /// </summary>
    private readonly Dictionary<int, PartitionDigestPrefix> _prefixes = [];

    /// <summary>How many times rows of each partition were deleted here: a prefix read across a deletion is not kept.</summary>
    private readonly Dictionary<int, long> _deletions = [];

    /// <summary>
    /// The store's <see cref="ILedgerStore.ForeignWriteMark"/> when the prefixes and noted digests
    /// were last known to be trustworthy: the writer's change counts see only its own writes, so a
    /// commit beside it (someone editing the store) drops every prefix and noted digest.
    /// </summary>
    private long _foreignWriteMark;

    public long DeletionsOf(int partition) => _deletions.GetValueOrDefault(partition);

    /// <summary>What <see cref="KeepPrefix"/> needs read before the prefix's snapshot: the partition's deletions and the store's foreign-write mark.</summary>
    public (long Deletions, long ForeignWriteMark) BeforePrefix(int partition) => (DeletionsOf(partition), _store.ForeignWriteMark());

    /// <summary>
    /// Keeps <paramref name="prefix"/> for the partition's next digests, unless rows of it were
    /// deleted, or something beside the writer committed to the store, since <paramref name="before"/> was read.
    /// </summary>
    public bool KeepPrefix(PartitionDigestPrefix prefix, (long Deletions, long ForeignWriteMark) before)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ForgetIfWrittenBeside();
        if (DeletionsOf(prefix.Partition) != before.Deletions || _foreignWriteMark != before.ForeignWriteMark)
        {
            _prefixes.Remove(prefix.Partition);
            return false;
        }
        _prefixes[prefix.Partition] = prefix;
        return true;
    }

    public PartitionDigestValue Digest(int partition) => DigestNoted(partition);

    private PartitionDigestValue DigestNoted(int partition)
    {
        ForgetIfWrittenBeside();
        var digest = _store.DigestPartition(partition, _prefixes.GetValueOrDefault(partition)) with { EventSequence = _events.PartitionSequence(partition) };
        _digested[partition] = (ChangesOf(partition), digest);
        return digest;
    }

    /// <summary>
    /// A settled row is never rewritten by this writer, so a prefix stays true while the writer is
    /// the store's only writer; a commit beside it (a repair by hand, a damaged copy) could change
    /// rows hashed in a prefix, so then every prefix and noted digest is dropped and hashed again.
    /// </summary>
    private void ForgetIfWrittenBeside()
    {
        var mark = _store.ForeignWriteMark();
        if (mark == _foreignWriteMark)
        {
            return;
        }
        if (_prefixes.Count > 0 || _digested.Count > 0)
        {
            _metrics.MoveStep("digests_forgotten");
            LogWrittenBeside(_prefixes.Count, _digested.Count);
        }
        _prefixes.Clear();
        _digested.Clear();
        _foreignWriteMark = mark;
    }

    /// <summary>
    /// Whether <paramref name="partition"/> still hashes as <paramref name="sha256"/>: by the change
    /// count when this writer took that digest and nothing has changed the partition since (no row,
    /// balance, owed leg or import), else by hashing it again (after a restart, or a change).
    /// </summary>
    private bool StillHashes(int partition, ReadOnlySpan<byte> sha256, out PartitionDigestValue digest)
    {
        ForgetIfWrittenBeside();
        if (_digested.TryGetValue(partition, out var noted) && noted.Changes == ChangesOf(partition) && noted.Digest.Sha256.AsSpan().SequenceEqual(sha256))
        {
            digest = noted.Digest;
            return true;
        }
        digest = DigestNoted(partition);
        return digest.Sha256.AsSpan().SequenceEqual(sha256);
    }

    public PartitionImportRecord Verify(int partition, string sourceCell, long sourceEpoch, PartitionDigestValue sourceDigest)
    {
        var import = ExpectImport(partition, sourceCell, sourceEpoch);
        var copy = DigestNoted(partition);
        if (!copy.SameRows(sourceDigest))
        {
            _metrics.MoveStep("verify_failed");
            throw Refused($"the copy of partition {partition} differs from cell {sourceCell}'s: copy {copy}, source {sourceDigest}. Catch up and verify again.");
        }
        // The source's event numbering of the partition, which this cell continues if it owns it.
        var verified = import with { State = ImportRecordState.Verified, Digest = copy.Sha256, EventSequence = sourceDigest.EventSequence };
        _store.SaveMoveStep(new MoveStep { Import = verified });
        SetImports(_imports.SetItem(partition, verified));
        _metrics.MoveStep("verified");
        return verified;
    }

    public PartitionOwnership Release(int partition, long epoch, string targetCell, byte[] sha256)
    {
        var row = _ownership[partition];
        if (row.State == OwnershipState.Released && row.OwnerCell == targetCell && row.OwnerEpoch == epoch + 1)
        {
            return row;
        }
        if (row.State != OwnershipState.Moving || row.Epoch != epoch || row.OwnerCell != targetCell)
        {
            throw Refused(Describe(partition, row, $"release it to cell {targetCell}"));
        }
        if (row.LeaseUntilUnixMs < _time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            throw Refused($"the pause of partition {partition} ran out before its release; it is served here again. Run the move again.");
        }
        if (!StillHashes(partition, sha256, out var digest))
        {
            throw Refused($"partition {partition} no longer hashes as the copy verified ({digest}): not released.");
        }
        var released = SetOwner(row with { State = OwnershipState.Released, LeaseUntilUnixMs = 0 });
        foreach (var account in _store.LoadAccounts(partition))
        {
            _accounts.Remove(account.Id);
        }
        _metrics.MoveStep("released");
        return released;
    }

    public PartitionOwnership Own(int partition, string sourceCell, long sourceEpoch)
    {
        var row = _ownership[partition];
        if (row.State is OwnershipState.Owned or OwnershipState.Moving && row.Epoch == sourceEpoch + 1)
        {
            return row;
        }
        if (row.State is OwnershipState.Owned or OwnershipState.Moving)
        {
            throw Refused(Describe(partition, row, $"own it at epoch {sourceEpoch + 1}"));
        }
        // The guard (R9): no verified copy that still hashes as verified, no ownership. There is no
        // setting that skips it.
        if (!_imports.TryGetValue(partition, out var import) || import.SourceCell != sourceCell || import.SourceEpoch != sourceEpoch
            || import.State != ImportRecordState.Verified)
        {
            _metrics.MoveStep("own_refused");
            throw Refused($"cell {_ownership.Cell} holds no verified copy of partition {partition} from cell {sourceCell} at epoch {sourceEpoch}: it will not serve data it does not hold. Copy and verify it first (bulwark cells move).");
        }
        if (!StillHashes(partition, import.Digest, out var digest))
        {
            _metrics.MoveStep("own_refused");
            throw Refused($"cell {_ownership.Cell}'s copy of partition {partition} no longer hashes as verified ({digest}): not owned. Run the move again.");
        }
        var owned = new PartitionOwnership(partition, sourceEpoch + 1, OwnershipState.Owned, "", 0);
        // The partition's history in the event log goes on here: its first event at this cell,
        // numbered after the source's last, written with the ownership.
        var moved = _events.Moved(partition, import.EventSequence, sourceCell, sourceEpoch + 1, _time.GetUtcNow().ToUnixTimeMilliseconds());
        try
        {
            _store.SaveMoveStep(new MoveStep { Owner = owned, DeleteImport = partition, Event = moved });
        }
        catch
        {
            _events.Load(_store.LoadOutboxPosition());
            throw;
        }
        EventsWritten([moved]);
        foreach (var account in _store.LoadAccounts(partition))
        {
            _accounts[account.Id] = new AccountState(account, partition);
        }
        Ownership = _ownership.With(owned);
        SetImports(_imports.Remove(partition));
        _metrics.MoveStep("owned");
        LogOwned(partition, sourceEpoch + 1, sourceCell, digest.Accounts, digest.Transfers);
        return owned;
    }

    /// <summary>Deletes up to <paramref name="limit"/> rows of a copy this cell does not own (released, or an import given up).</summary>
    public int DropCopy(int partition, int limit, bool abortImport)
    {
        var row = _ownership[partition];
        if (row.State is OwnershipState.Owned or OwnershipState.Moving)
        {
            throw Refused(Describe(partition, row, "delete its rows"));
        }
        if (_imports.ContainsKey(partition))
        {
            if (!abortImport)
            {
                throw Refused($"partition {partition} is being imported here: abort the import to delete its copy.");
            }
            _store.SaveMoveStep(new MoveStep { DeleteImport = partition });
            SetImports(_imports.Remove(partition));
            _metrics.MoveStep("import_aborted");
        }
        return DeleteRows(partition, limit);
    }

    private int DeleteRows(int partition, int limit)
    {
        NoteChanged(partition);
        _deletions[partition] = DeletionsOf(partition) + 1;
        _prefixes.Remove(partition);
        var deleted = 0;
        while (deleted < limit)
        {
            var chunk = _store.DeletePartitionRows(partition, Math.Min(limit - deleted, LedgerLimits.MoveRowsPerChunk));
            deleted += chunk;
            if (chunk == 0)
            {
                break;
            }
        }
        return deleted;
    }

    private PartitionImportRecord ExpectImport(int partition, string sourceCell, long sourceEpoch)
    {
        if (!_imports.TryGetValue(partition, out var import))
        {
            throw Refused($"cell {_ownership.Cell} is not importing partition {partition}: begin the import first.");
        }
        if (import.SourceCell != sourceCell || import.SourceEpoch != sourceEpoch)
        {
            throw Refused($"cell {_ownership.Cell} is importing partition {partition} from cell {import.SourceCell} at epoch {import.SourceEpoch}, not from {sourceCell} at {sourceEpoch}.");
        }
        return import;
    }

    private PartitionOwnership SetOwner(PartitionOwnership row)
    {
        _store.SaveMoveStep(new MoveStep { Owner = row });
        Ownership = _ownership.With(row);
        MovesChanged();
        return row;
    }

    private void SetImports(ImmutableDictionary<int, PartitionImportRecord> imports)
    {
        Volatile.Write(ref _imports, imports);
        MovesChanged();
    }

    private string Describe(int partition, PartitionOwnership row, string what) => row.State switch
    {
        OwnershipState.Owned => $"cell {_ownership.Cell} owns partition {partition} at epoch {row.Epoch}: cannot {what}.",
        OwnershipState.Moving => $"cell {_ownership.Cell} is handing partition {partition} (epoch {row.Epoch}) to cell {row.OwnerCell}: cannot {what}.",
        OwnershipState.Released => $"cell {_ownership.Cell} gave partition {partition} to cell {row.OwnerCell} at epoch {row.OwnerEpoch}: cannot {what}.",
        _ => $"cell {_ownership.Cell} does not own partition {partition}: cannot {what}.",
    };

    private static LedgerMoveRefusedException Refused(string message) => new(message);

    // Leases are on this machine's clock, never on the ledger's timestamps, which may carry another cell's clock.
    private long WallClock() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    [LoggerMessage(EventId = 1420, Level = LogLevel.Error, Message = "A partition move step failed to write; nothing of it was written")]
    private partial void LogMoveStepFailed(Exception error);

    [LoggerMessage(EventId = 1421, Level = LogLevel.Warning, Message = "The pause of partition {Partition} for a move to cell {Target} ran out before the move finished: serving the partition again (the move can be run again)")]
    private partial void LogPauseExpired(int partition, string target);

    [LoggerMessage(EventId = 1422, Level = LogLevel.Warning, Message = "Partition {Partition} was being imported from cell {OldSource} at epoch {OldEpoch}; starting again from cell {Source} at epoch {Epoch}")]
    private partial void LogImportReplaced(int partition, string oldSource, long oldEpoch, string source, long epoch);

    [LoggerMessage(EventId = 1424, Level = LogLevel.Warning, Message = "Something beside this cell's writer committed to its store: {Prefixes} digest prefixes and {Digests} checked digests are dropped, and their partitions are hashed whole again")]
    private partial void LogWrittenBeside(int prefixes, int digests);

    [LoggerMessage(EventId = 1423, Level = LogLevel.Information, Message = "This cell owns partition {Partition} at epoch {Epoch}, moved from cell {Source} ({Accounts} accounts, {Transfers} transfer rows verified)")]
    private partial void LogOwned(int partition, long epoch, string source, long accounts, long transfers);
}
