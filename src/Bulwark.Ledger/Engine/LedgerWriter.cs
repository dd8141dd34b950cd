using System.Diagnostics;
using System.Threading.Channels;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Telemetry;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Engine;

/// <summary>
/// The one writer of a ledger cell. It drains the queue into batches, decides every item of a
/// batch in memory, in order (a later transfer sees the earlier ones), checks that the batch
/// conserves money, writes it in ONE store transaction, and only then tells the callers. If
/// anything fails, every caller of the batch gets the error and the cache is reloaded from the
/// store, so nothing half-applied lingers.
/// </summary>
internal sealed partial class LedgerWriter
{
    private readonly ILedgerStore _store;
    private readonly LedgerOptions _options;
    private readonly TimeProvider _time;
    private readonly LedgerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ChannelReader<WriterItem> _queue;
    private readonly Action _sweepTaken;
    private readonly LedgerCommitHealth _health;

    private readonly Dictionary<UInt128, AccountState> _accounts = [];
    private readonly Dictionary<UInt128, TransferEntry> _transfers = [];
    private readonly Dictionary<UInt128, TransferEntry> _legs = [];
    private readonly HashSet<UInt128> _settledInBatch = [];
    private readonly List<TransferEntry> _newTransfers = [];
    private readonly List<TransferEntry> _changedHolds = [];
    private readonly List<AccountState> _touched = [];
    private readonly LedgerCommit _commit = new();
    private readonly LedgerEventBuilder _events;
    private readonly List<int> _settledPartitions = [];

    /// <summary>
    /// Per partition, how many changes the writer has made to it (rows, balances, owed legs, imported
    /// rows) since it started: a move's step that needs "nothing changed since the digest" compares
    /// two counts instead of hashing the whole partition again. In memory only: after a restart the
    /// steps hash again.
    /// </summary>
    private readonly Dictionary<int, long> _partitionChanges = [];

    private bool _cacheValid;
    private long _sequence;
    private long _lastTimestampUnixMs;
    private long _batch;
    private long _now;
    private bool _sweepAgain;
    private long _probeFailureLoggedAt;
    private long _publishedWatermark;
    private long _recordedWatermark;
    private long _committedCellSequence;

    public LedgerWriter(ILedgerStore store, LedgerOptions options, TimeProvider time, LedgerMetrics metrics, ILogger logger,
        ChannelReader<WriterItem> queue, Action sweepTaken, LedgerCommitHealth health)
    {
        _health = health;
        _store = store;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _queue = queue;
        _sweepTaken = sweepTaken;
        _events = new LedgerEventBuilder(options.PartitionCount);
    }

    /// <summary>Called on the writer's thread after a batch that wrote outbox events commits; must not block.</summary>
    public Action? EventsCommitted { get; set; }

    /// <summary>The last committed outbox cell sequence (any thread).</summary>
    public long CommittedCellSequence => Volatile.Read(ref _committedCellSequence);

    /// <summary>The relay's watermark as the store holds it, or as the relay last reported it (any thread).</summary>
    public long OutboxWatermark => Math.Max(Volatile.Read(ref _recordedWatermark), Volatile.Read(ref _publishedWatermark));

    /// <summary>
    /// The relay has published every event up to <paramref name="cellSequence"/> (any thread): the
    /// next batch records it and prunes the outbox below it, in its own transaction.
    /// </summary>
    public void OutboxPublished(long cellSequence)
    {
        var seen = Volatile.Read(ref _publishedWatermark);
        while (cellSequence > seen)
        {
            var before = Interlocked.CompareExchange(ref _publishedWatermark, cellSequence, seen);
            if (before == seen)
            {
                return;
            }
            seen = before;
        }
    }

    /// <summary>Called on the writer's thread after a batch that owes credit legs commits; must not block.</summary>
    public Action? OwedLegsCommitted { get; set; }

    /// <summary>Batches committed and items in them, for benchmarks and tests.</summary>
    public long BatchesCommitted => Volatile.Read(ref _batchesCommitted);

    public long ItemsCommitted => Volatile.Read(ref _itemsCommitted);

    public long TransfersCommitted => Volatile.Read(ref _transfersCommitted);

    private long _batchesCommitted;
    private long _itemsCommitted;
    private long _transfersCommitted;

    /// <summary>Set when a sweep hit its limit: the engine queues another at once.</summary>
    public bool TakeSweepAgain()
    {
        var again = _sweepAgain;
        _sweepAgain = false;
        return again;
    }

    /// <summary>Loads the cache from the store. Called before the loop starts and after a failed batch.</summary>
    public void Load()
    {
        _cacheValid = false;
        _accounts.Clear();
        foreach (var account in _store.LoadAccounts())
        {
            _accounts.Add(account.Id, new AccountState(account, LedgerPartitioner.PartitionOf(account.Id, _options.PartitionCount)));
        }
        LoadMoves();
        var position = _store.LoadPosition();
        _sequence = position.Sequence;
        _lastTimestampUnixMs = position.TimestampUnixMs;
        var outbox = _store.LoadOutboxPosition();
        _events.Load(outbox);
        Volatile.Write(ref _recordedWatermark, outbox.Watermark);
        Volatile.Write(ref _committedCellSequence, outbox.CellSequence);
        _cacheValid = true;
    }

    /// <summary>The loop, on its own thread: returns when the queue is completed and drained.</summary>
    public void Run(Action afterBatch)
    {
        var items = new List<WriterItem>(_options.BatchTransfersMax);
        while (true)
        {
            if (!_queue.TryRead(out var first))
            {
                var wait = _queue.WaitToReadAsync();
                // Blocking is right here: this dedicated thread does nothing but write.
                if (!(wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult()))
                {
                    return;
                }
                continue;
            }
            ResumeExpiredPauses();
            if (first.Kind == WriterItemKind.Control)
            {
                RunControl(first);
                continue;
            }
            items.Add(first);
            WriterItem? control = null;
            while (items.Count < _options.BatchTransfersMax && _queue.TryRead(out var next))
            {
                if (next.Kind == WriterItemKind.Control)
                {
                    // A move step runs alone: after the batch of everything queued before it.
                    control = next;
                    break;
                }
                items.Add(next);
            }
            RunBatch(items);
            items.Clear();
            afterBatch();
            if (control is { } step)
            {
                RunControl(step);
            }
        }
    }

    private void RunBatch(List<WriterItem> items)
    {
        try
        {
            if (!_cacheValid)
            {
                Load();
            }
            _batch++;
            _now = Math.Max(_time.GetUtcNow().ToUnixTimeMilliseconds(), _lastTimestampUnixMs);
            foreach (var item in items)
            {
                Decide(item);
            }
            var sweep = items.Exists(item => item.Kind == WriterItemKind.Sweep);
            BuildCommit(sweep);
            if (_commit.IsEmpty && !_health.CanCommit && sweep)
            {
                // Not ready since a failed commit: the periodic sweep also probes, so readiness comes
                // back once the store commits again, without waiting for a customer's write.
                _commit.ProbeAtUnixMs = Math.Max(_now, 1);
            }
            CheckBatchInvariants();
            var started = Stopwatch.GetTimestamp();
            // Also when empty: the store may hold the batch's lookups in a transaction it ends here.
            _store.Commit(_commit);
            _metrics.BatchCommitted(items.Count, Stopwatch.GetElapsedTime(started));
            if (!_commit.IsEmpty)
            {
                // Only a commit that wrote proves the store can write (an empty one is a no-op); a probe writes.
                _health.CommitSucceeded();
            }
            if (_commit.NewOwedLegs.Count > 0)
            {
                OwedLegsCommitted?.Invoke();
            }
            if (_commit.OutboxWatermark > 0)
            {
                Volatile.Write(ref _recordedWatermark, _commit.OutboxWatermark);
            }
            if (_commit.Events.Count > 0)
            {
                EventsWritten(_commit.Events);
            }
            _lastTimestampUnixMs = _now;
            // Transfers, not rows: the credit leg of a transfer between partitions is the same transfer.
            var transfers = 0;
            foreach (var entry in _newTransfers)
            {
                if (entry.Transfer.Leg is TransferLeg.Whole or TransferLeg.Debit)
                {
                    transfers++;
                }
            }
            Interlocked.Increment(ref _batchesCommitted);
            Interlocked.Add(ref _itemsCommitted, items.Count);
            Interlocked.Add(ref _transfersCommitted, transfers);
            Complete(items);
        }
        catch (Exception error)
        {
            FailBatch(items, error);
        }
        finally
        {
            ClearBatch();
        }
    }

    private void Decide(WriterItem item)
    {
        if (item.Owner is { HasFailed: true })
        {
            // Its caller was told the request failed (an earlier batch holding part of it did).
            return;
        }
        switch (item.Kind)
        {
            case WriterItemKind.Transfer:
                var transfers = (TransferSubmission)item.Owner!;
                transfers.Results[item.Index] = DecideTransfer(transfers.Transfers[item.Index], transfers.RemoteAccounts, transfers.LookedUpWith);
                break;
            case WriterItemKind.CreditLeg:
                var legs = (CreditLegSubmission)item.Owner!;
                legs.Results[item.Index] = DecideCreditLeg(legs.Legs[item.Index]);
                break;
            case WriterItemKind.Settlement:
                var settlements = (SettlementSubmission)item.Owner!;
                var (owed, outcome) = settlements.Settlements[item.Index];
                DecideSettlement(owed, outcome);
                break;
            case WriterItemKind.Account:
                var accounts = (AccountSubmission)item.Owner!;
                accounts.Results[item.Index] = DecideAccount(accounts.Accounts[item.Index]);
                break;
            case WriterItemKind.Control:
                throw new UnreachableException("A move step is run alone, never inside a batch.");
            case WriterItemKind.Sweep:
                if (item.Owner is null)
                {
                    _sweepTaken();
                }
                ExpireDueHolds();
                break;
            default:
                throw new UnreachableException($"Unknown writer item kind {item.Kind}.");
        }
    }

    private void Complete(List<WriterItem> items)
    {
        foreach (var item in items)
        {
            if (item.Owner is { HasFailed: true })
            {
                // Not decided (see Decide): nothing to count or complete.
                continue;
            }
            switch (item.Kind)
            {
                case WriterItemKind.Transfer:
                    var transfers = (TransferSubmission)item.Owner!;
                    _metrics.TransferDecided(transfers.Results[item.Index]);
                    transfers.ItemCommitted();
                    break;
                case WriterItemKind.CreditLeg:
                    var legs = (CreditLegSubmission)item.Owner!;
                    _metrics.TransferDecided(legs.Results[item.Index]);
                    legs.ItemCommitted();
                    break;
                case WriterItemKind.Account:
                    var accounts = (AccountSubmission)item.Owner!;
                    _metrics.AccountDecided(accounts.Results[item.Index]);
                    accounts.ItemCommitted();
                    break;
                default:
                    item.Owner?.ItemCommitted();
                    break;
            }
        }
    }

    private void FailBatch(List<WriterItem> items, Exception error)
    {
        _metrics.BatchFailed(error is UnreachableException ? "invariant" : "store");
        Exception reported;
        Exception reportedPartly;
        if (error is UnreachableException)
        {
            LogInvariantViolated(error, items.Count);
            reported = error;
            reportedPartly = error;
        }
        else
        {
            if (_commit.ProbeAtUnixMs == 0)
            {
                LogBatchFailed(error, items.Count);
            }
            else
            {
                LogProbeFailedAtMostEveryMinute(error);
            }
            _health.CommitFailed(error);
            reported = new LedgerUnavailableException(
                "The ledger could not commit the batch holding this request; nothing of it was written, and retrying with the same ids is safe.", error);
            // A submission can span batches: an earlier one may have committed part of it already.
            reportedPartly = new LedgerUnavailableException(
                "The ledger could not commit the batch holding part of this request; transfers of it in earlier batches were already committed and the rest were not. Retrying with the same ids is safe: the committed ones answer as duplicates.", error);
        }
        foreach (var item in items)
        {
            if (item.Owner is { HasFailed: false } owner)
            {
                owner.Fail(owner.AnyCommitted ? reportedPartly : reported);
            }
        }
        // A failed probe waits for the next sweep tick: retrying it at once would spin on a broken disk.
        _sweepAgain = items.Exists(item => item.Kind == WriterItemKind.Sweep) && _commit.ProbeAtUnixMs == 0;
        try
        {
            Load();
        }
        catch (Exception reloadError)
        {
            // The next batch tries again before deciding anything; until then nothing is decided
            // on a cache that may hold this batch's half-applied changes.
            _cacheValid = false;
            LogReloadFailed(reloadError);
        }
    }

    private void LogProbeFailedAtMostEveryMinute(Exception error)
    {
        var now = _time.GetTimestamp();
        if (_probeFailureLoggedAt != 0 && _time.GetElapsedTime(_probeFailureLoggedAt, now) < TimeSpan.FromSeconds(LedgerLimits.ProbeFailureLogIntervalSeconds))
        {
            return;
        }
        _probeFailureLoggedAt = now;
        LogProbeFailed(error.GetType().Name, error.Message);
    }

    private void ClearBatch()
    {
        _transfers.Clear();
        _legs.Clear();
        _settledInBatch.Clear();
        _newTransfers.Clear();
        _changedHolds.Clear();
        _touched.Clear();
        _settledPartitions.Clear();
        _commit.Clear();
    }

    /// <param name="sweep">The batch holds the periodic sweep: it records the relay's watermark (see <see cref="RecordWatermark"/>).</param>
    private void BuildCommit(bool sweep)
    {
        foreach (var entry in _newTransfers)
        {
            _commit.NewTransfers.Add(new Partitioned<LedgerTransfer>(entry.Partition, entry.Transfer));
            NoteChanged(entry.Partition);
        }
        foreach (var entry in _changedHolds)
        {
            _commit.ChangedHolds.Add(entry.Transfer);
            NoteChanged(entry.Partition);
        }
        foreach (var account in _touched)
        {
            if (account.DebitsPending != account.DebitsPendingBefore || account.DebitsPosted != account.DebitsPostedBefore
                || account.CreditsPending != account.CreditsPendingBefore || account.CreditsPosted != account.CreditsPostedBefore)
            {
                _commit.Balances.Add(account.Snapshot());
                NoteChanged(account.Partition);
            }
        }
        // Every change goes to the outbox in the batch's own transaction (docs/internals/event-log.md).
        _events.Build(_commit, _settledPartitions, _now);
        var published = Volatile.Read(ref _publishedWatermark);
        if (RecordWatermark(published, _recordedWatermark, sweep))
        {
            _commit.OutboxWatermark = published;
        }
    }

    /// <summary>
    /// Whether this batch records the relay's watermark and prunes the outbox below it: the
    /// periodic sweep's batch (once a second), or any batch once
    /// <see cref="LedgerLimits.OutboxUnrecordedEventsMax"/> published events wait. Not every batch
    /// after a relay round: the record and the prune are one statement each whatever they cover, so
    /// doing them once a second instead of fifty times costs the same rows and a fiftieth of the
    /// statements. Safe at any cadence: until it is recorded a crash only republishes, as duplicates.
    /// </summary>
    private static bool RecordWatermark(long published, long recorded, bool sweep) =>
        published > recorded && (sweep || published - recorded >= LedgerLimits.OutboxUnrecordedEventsMax);

    /// <summary>The events the writer committed lately, for the relay (a cache of the outbox).</summary>
    public CommittedEvents Committed { get; } = new();

    /// <summary>Tells the relay that events up to the builder's cell sequence are committed, and hands it <paramref name="committed"/>.</summary>
    private void EventsWritten(IReadOnlyList<LedgerOutboxEvent> committed)
    {
        Committed.Add(committed);
        Volatile.Write(ref _committedCellSequence, _events.CellSequence);
        EventsCommitted?.Invoke();
    }

    /// <summary>Counts a change to <paramref name="partition"/> (see <see cref="_partitionChanges"/>); counted when decided, so a batch that then fails to commit only makes a later step hash again.</summary>
    private void NoteChanged(int partition) =>
        _partitionChanges[partition] = _partitionChanges.GetValueOrDefault(partition) + 1;

    private long ChangesOf(int partition) => _partitionChanges.GetValueOrDefault(partition);

    /// <summary>
    /// The money invariant, checked in release builds on every batch: the batch's posted deltas sum
    /// to zero, and so do its pending deltas; no balance is negative; no limited account exceeds
    /// its limit. Cheap (one pass over touched accounts) and the last line before the disk.
    /// </summary>
    private void CheckBatchInvariants()
    {
        Int128 posted = 0;
        Int128 pending = 0;
        foreach (var account in _touched)
        {
            posted += (Int128)account.CreditsPosted - account.CreditsPostedBefore - account.DebitsPosted + account.DebitsPostedBefore;
            pending += (Int128)account.CreditsPending - account.CreditsPendingBefore - account.DebitsPending + account.DebitsPendingBefore;
            if (account.DebitsPending < 0 || account.DebitsPosted < 0 || account.CreditsPending < 0 || account.CreditsPosted < 0)
            {
                throw new UnreachableException($"Account {account.Id:x32} would have a negative balance.");
            }
            // Only forced debits may take a limited account past its limit: without them, its
            // debits are within the limit or no higher than before the batch.
            var unforced = (Int128)account.DebitsPending + account.DebitsPosted - account.ForcedDebitsInBatch;
            if (account.DebitsMustNotExceedCredits
                && unforced > (Int128)account.CreditsPosted + account.Identity.OverdraftLimit
                && unforced > (Int128)account.DebitsPendingBefore + account.DebitsPostedBefore)
            {
                throw new UnreachableException($"Account {account.Id:x32} would exceed its credits.");
            }
        }
        if (posted != 0 || pending != 0)
        {
            throw new UnreachableException($"A batch would create money: posted deltas sum to {posted}, pending deltas to {pending}.");
        }
    }

    private void Touch(AccountState account)
    {
        if (account.Touch(_batch))
        {
            _touched.Add(account);
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Error, Message = "A ledger batch of {Items} items failed to commit; every caller was told to retry and the cache was reloaded")]
    private partial void LogBatchFailed(Exception error, int items);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Critical, Message = "A ledger batch of {Items} items broke a money invariant and was not written: this is a bug")]
    private partial void LogInvariantViolated(Exception error, int items);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "The ledger's commit probe failed ({ErrorType}: {Error}); still not ready. Logged at most once a minute while it fails")]
    private partial void LogProbeFailed(string errorType, string error);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Critical, Message = "The ledger could not reload its cache from the store; it will try again before the next batch")]
    private partial void LogReloadFailed(Exception error);

    /// <summary>A transfer the batch has read or written, with its latest state.</summary>
    private sealed class TransferEntry(LedgerTransfer transfer, int partition, bool isNew)
    {
        public LedgerTransfer Transfer { get; set; } = transfer;

        public int Partition { get; } = partition;

        public bool IsNew { get; } = isNew;

        public bool IsChanged { get; set; }
    }
}
