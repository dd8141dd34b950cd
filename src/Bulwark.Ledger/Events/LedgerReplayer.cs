using System.Globalization;
using Bulwark.EventLog;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Events;

/// <summary>A partition a replayed cell owns, at the epoch the placement map gives it.</summary>
public readonly record struct ReplayPartition(int Partition, long Epoch);

/// <summary>What a replay rebuilds: cell <paramref name="Cell"/> of cluster <paramref name="ClusterId"/>, owning <paramref name="Partitions"/>.</summary>
public sealed record LedgerReplayPlan(string Cell, string ClusterId, int PartitionCount, IReadOnlyList<ReplayPartition> Partitions);

/// <summary>Where a replay is: events applied of the total to apply, in this run.</summary>
public readonly record struct LedgerReplayProgress(int Partition, long EventsApplied, long EventsTotal, long TransferRows);

/// <summary>
/// What a replay did: <paramref name="Events"/> applied in this run (<paramref name="EventsResumed"/>
/// were applied by an earlier run that was stopped), the transfer rows and accounts written, and
/// the outbox position the cell resumes from (the highest cell sequence of its partitions' last events).
/// </summary>
public sealed record LedgerReplayResult(int Partitions, long Events, long EventsResumed, long TransferRows, long Accounts, long OutboxWatermark, TimeSpan Elapsed);

/// <summary>
/// Rebuilds a ledger cell's store from the event log alone (docs/runbooks/ledger-replay.md): every
/// partition the placement map gives the cell, each from its first event in sequence order, by
/// applying the row images (no business rule runs again).
/// <para>
/// The store is written through the partition move's import path: each partition is a copy the
/// cell does not serve (an import record whose source is <see cref="ReplaySource"/>), and every
/// chunk of rows is written in one transaction with the import record's progress (the last event
/// sequence applied), so a replay stopped at any point and run again continues where it stopped
/// and applies nothing twice. Only when every partition is complete does the cell own them, each
/// at the map's epoch in one transaction with its last event in the outbox, after the relay's
/// watermark is set to the highest of those: the cell numbers its next events after the log's, and
/// its relay republishes nothing. Until then the store serves nothing (nothing is half-claimed).
/// </para>
/// <para>
/// Transfer rows are numbered anew in the store (their <see cref="LedgerTransfer.Sequence"/> is the
/// store's commit order, as a move's import numbers them): partition after partition, each in its
/// history's order, so an account's rows keep their order.
/// </para>
/// </summary>
public sealed class LedgerReplayer
{
    /// <summary>The source named by the import record of a partition being replayed.</summary>
    public const string ReplaySource = "(event log)";

    private readonly IEventLog _log;
    private readonly ILedgerStore _store;
    private readonly LedgerReplayPlan _plan;
    private readonly IProgress<LedgerReplayProgress>? _progress;
    private readonly TimeProvider _time;
    private long _eventsApplied;
    private long _eventsTotal;
    private long _transferRows;
    private long _accounts;

    /// <param name="store">A store not yet opened: the replay opens it (its writer) and leaves it open for the caller to dispose.</param>
    public LedgerReplayer(IEventLog log, ILedgerStore store, LedgerReplayPlan plan, IProgress<LedgerReplayProgress>? progress = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentException.ThrowIfNullOrWhiteSpace(plan.Cell);
        _log = log;
        _store = store;
        _plan = plan;
        _progress = progress;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Replays the plan's partitions into the store. Throws <see cref="LedgerReplayException"/> (the
    /// store not empty or another cell's, a record refused, the log and the map disagreeing) or
    /// <see cref="EventLogException"/> (a bad checksum, an unknown format version, a gap, the log
    /// unreachable): in every case no partition is owned; run again once the cause is gone.
    /// </summary>
    public async Task<LedgerReplayResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        _store.Open(_plan.PartitionCount);
        var state = CheckStore();
        var lastRecords = await ReadLastRecordsAsync(cancellationToken).ConfigureAwait(false);
        if (state.IsNew)
        {
            _store.InitialiseCell(_plan.Cell, _plan.ClusterId, []);
        }
        var pending = _plan.Partitions.Where(target => !state.Owned.Contains(target.Partition)).ToArray();
        foreach (var target in pending.Where(target => !state.Applied.ContainsKey(target.Partition)))
        {
            // Every partition is a copy in progress from the start, so that an interrupted replay is
            // always told from a finished one (a cell with no copies in progress).
            _store.SaveMoveStep(new MoveStep { Import = Progress(target, 0) });
        }
        var resumed = pending.Sum(target => state.Applied.GetValueOrDefault(target.Partition));
        _eventsTotal = pending.Sum(target => (lastRecords[target.Partition]?.Sequence ?? 0) - state.Applied.GetValueOrDefault(target.Partition));
        var openLegs = (await _store.GetOwedCreditLegsAsync(int.MaxValue, [], cancellationToken).ConfigureAwait(false))
            .ToLookup(leg => leg.Partition);
        var sequence = _store.LoadPosition().Sequence;
        foreach (var target in pending)
        {
            sequence = await ReplayPartitionAsync(target, state.Applied.GetValueOrDefault(target.Partition), lastRecords[target.Partition], openLegs[target.Partition], sequence, cancellationToken)
                .ConfigureAwait(false);
        }
        var watermark = Claim(pending, lastRecords);
        return new LedgerReplayResult(_plan.Partitions.Count, _eventsApplied, resumed, _transferRows, _accounts, watermark, _time.GetElapsedTime(started));
    }

    /// <summary>The cell owns its partitions: the relay's watermark first, then each partition with its last event in the outbox.</summary>
    private long Claim(IReadOnlyList<ReplayPartition> pending, IReadOnlyDictionary<int, EventRecord?> lastRecords)
    {
        var watermark = lastRecords.Values.Where(record => record is not null).Select(record => record!.CellSequence).DefaultIfEmpty(0).Max();
        if (watermark > 0)
        {
            _store.Commit(new LedgerCommit { OutboxWatermark = watermark });
        }
        foreach (var target in pending)
        {
            var last = lastRecords[target.Partition];
            LedgerOutboxEvent? outboxEvent = null;
            if (last is not null)
            {
                var committedAt = PartitionChange.Parser.ParseFrom(last.Payload.Span).CommittedAtUnixMs;
                outboxEvent = new LedgerOutboxEvent(last.CellSequence, target.Partition, last.Sequence, last.Kind, last.Payload.ToArray(), committedAt);
            }
            _store.SaveMoveStep(new MoveStep
            {
                Owner = new PartitionOwnership(target.Partition, target.Epoch, OwnershipState.Owned, "", 0),
                DeleteImport = target.Partition,
                Event = outboxEvent,
            });
        }
        return watermark;
    }

    private async Task<long> ReplayPartitionAsync(ReplayPartition target, long applied, EventRecord? last, IEnumerable<OwedCreditLeg> openLegs, long sequence, CancellationToken cancellationToken)
    {
        var partition = target.Partition;
        var lastSequence = last?.Sequence ?? 0;
        if (applied > lastSequence)
        {
            throw new LedgerReplayException(string.Create(CultureInfo.InvariantCulture,
                $"the store has applied partition {partition} up to event {applied}, but the event log's partition {partition} ends at {lastSequence}: this is not the log the replay began from."));
        }
        if (applied == lastSequence)
        {
            return sequence;
        }
        var chunk = new ReplayChunk(partition, _store.LoadAccounts(partition), openLegs);
        var previousCell = applied == 0 ? null : (await ReadOneAsync(partition, applied, cancellationToken).ConfigureAwait(false)).Cell;
        await foreach (var record in _log.ReadAsync(partition, applied + 1, cancellationToken).ConfigureAwait(false))
        {
            if (record.Sequence > lastSequence)
            {
                // Written since the replay began (the log read as it was at the start decides).
                break;
            }
            var change = LedgerEventDecoder.Decode(record, _plan.PartitionCount, previousCell);
            previousCell = record.Cell;
            sequence = chunk.Add(record, change, sequence);
            if (chunk.Rows >= LedgerReplayLimits.ChunkRowsMax || chunk.Events >= LedgerReplayLimits.ChunkEventsMax)
            {
                applied = Flush(target, chunk, record.Sequence);
            }
        }
        if (chunk.Events > 0)
        {
            applied = Flush(target, chunk, chunk.LastSequence);
        }
        if (applied != lastSequence)
        {
            throw new LedgerReplayException(string.Create(CultureInfo.InvariantCulture,
                $"the event log's partition {partition} ended at event {applied} while reading, though its last was {lastSequence} when the replay began."));
        }
        return sequence;
    }

    private long Flush(ReplayPartition target, ReplayChunk chunk, long appliedSequence)
    {
        var rows = chunk.Take(appliedSequence);
        try
        {
            _store.ImportPartitionRows(target.Partition, rows, Progress(target, appliedSequence));
        }
        catch (Exception error) when (error is InvalidOperationException or System.Data.Common.DbException)
        {
            throw new LedgerReplayException(string.Create(CultureInfo.InvariantCulture,
                $"applying partition {target.Partition}'s events {chunk.FirstSequence} to {appliedSequence} failed (nothing of them was written): {error.Message}"), error);
        }
        _eventsApplied += chunk.Events;
        _transferRows += rows.Transfers.Count;
        _accounts += chunk.AccountsCreated;
        chunk.Clear(appliedSequence);
        _progress?.Report(new LedgerReplayProgress(target.Partition, _eventsApplied, _eventsTotal, _transferRows));
        return appliedSequence;
    }

    private PartitionImportRecord Progress(ReplayPartition target, long applied) =>
        new(target.Partition, ReplaySource, Math.Max(1, target.Epoch), applied, ImportRecordState.Copying, [], applied);

    private async Task<EventRecord> ReadOneAsync(int partition, long sequence, CancellationToken cancellationToken)
    {
        await foreach (var record in _log.ReadAsync(partition, sequence, cancellationToken).ConfigureAwait(false))
        {
            return record;
        }
        throw new LedgerReplayException(string.Create(CultureInfo.InvariantCulture, $"the event log has no record at partition {partition} sequence {sequence}."));
    }

    /// <summary>
    /// The last record of every partition to replay, read before anything is written: each must be
    /// the replayed cell's (the map gives it the partition, so the log's last writer of it must be
    /// it), and a log holding none of them is refused (a wrong address, not an empty cell).
    /// </summary>
    private async Task<Dictionary<int, EventRecord?>> ReadLastRecordsAsync(CancellationToken cancellationToken)
    {
        var last = new Dictionary<int, EventRecord?>();
        foreach (var target in _plan.Partitions)
        {
            var sequence = await _log.GetLastSequenceAsync(target.Partition, cancellationToken).ConfigureAwait(false);
            var record = sequence == 0 ? null : await ReadOneAsync(target.Partition, sequence, cancellationToken).ConfigureAwait(false);
            if (record is not null && !string.Equals(record.Cell, _plan.Cell, StringComparison.Ordinal))
            {
                throw LedgerEventDecoder.Refused(record, string.Create(CultureInfo.InvariantCulture,
                    $"is partition {target.Partition}'s last and was written by cell '{record.Cell}', but the placement map gives the partition to cell '{_plan.Cell}' (epoch {target.Epoch}): the log and the map disagree; find out which is right before replaying"));
            }
            last[target.Partition] = record;
        }
        if (_plan.Partitions.Count > 0 && last.Values.All(record => record is null))
        {
            throw new LedgerReplayException(string.Create(CultureInfo.InvariantCulture,
                $"the event log holds no event of any of cell '{_plan.Cell}''s {_plan.Partitions.Count} partitions: is it the right log? Nothing was replayed."));
        }
        return last;
    }

    private sealed record StoreState(bool IsNew, IReadOnlyDictionary<int, long> Applied, IReadOnlySet<int> Owned);

    /// <summary>
    /// Whether the store may be written: empty (new), or a replay of this cell stopped part-way
    /// (resumed from its import records). Anything else is refused, naming what it holds.
    /// </summary>
    private StoreState CheckStore()
    {
        var record = _store.LoadCell();
        var holdsRows = _store.LoadAccounts().Count > 0 || _store.LoadPosition().Sequence > 0 || _store.LoadOutboxPosition().CellSequence > 0;
        if (record is null)
        {
            return holdsRows ? throw NotEmpty("holds ledger data") : new StoreState(true, new Dictionary<int, long>(), new HashSet<int>());
        }
        if (!string.Equals(record.Cell, _plan.Cell, StringComparison.Ordinal) || !string.Equals(record.ClusterId, _plan.ClusterId, StringComparison.Ordinal))
        {
            throw NotEmpty($"belongs to cell '{record.Cell}' of cluster {record.ClusterId}");
        }
        var foreign = record.Imports.FirstOrDefault(import => import.SourceCell != ReplaySource);
        if (foreign is not null)
        {
            throw NotEmpty(string.Create(CultureInfo.InvariantCulture, $"is importing partition {foreign.Partition} from cell '{foreign.SourceCell}' (a move)"));
        }
        var epochs = _plan.Partitions.ToDictionary(target => target.Partition, target => target.Epoch);
        var owned = record.Ownership.Where(row => row.State != OwnershipState.None).ToArray();
        var wrong = owned.FirstOrDefault(row => row.State != OwnershipState.Owned || !epochs.TryGetValue(row.Partition, out var epoch) || epoch != row.Epoch);
        if (owned.Length > 0 && wrong.State != OwnershipState.None)
        {
            throw NotEmpty(string.Create(CultureInfo.InvariantCulture, $"records partition {wrong.Partition} as {wrong.State} at epoch {wrong.Epoch}, which is not what the map gives this cell"));
        }
        if (record.Imports.Count == 0 && (owned.Length > 0 || holdsRows))
        {
            throw NotEmpty(string.Create(CultureInfo.InvariantCulture, $"is cell '{record.Cell}' owning {owned.Length} partitions (its own store, or a finished replay)"));
        }
        // A cell record with nothing else is a store a bank made empty after the cell's was lost.
        return new StoreState(false, record.Imports.ToDictionary(import => import.Partition, import => import.EventSequence), owned.Select(row => row.Partition).ToHashSet());
    }

    private LedgerReplayException NotEmpty(string what) =>
        new($"the store to replay cell '{_plan.Cell}' into {what}: a replay writes only into an empty store (or one it began itself). Give it a new database, or delete this one if it is certainly not needed.");
}
