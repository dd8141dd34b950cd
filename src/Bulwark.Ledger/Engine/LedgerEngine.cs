using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Engine;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger;

/// <summary>
/// The ledger of one cell: a bounded queue in front of ONE writer thread that commits whole
/// batches, plus reads that go straight to the store. Usable in-process without gRPC (the bench,
/// the crash test); the gRPC service is a thin mapping over it.
/// <para>
/// The engine speaks its own immutable records (<see cref="LedgerTransfer"/>,
/// <see cref="LedgerAccount"/>) rather than the generated proto messages: ids are
/// <see cref="UInt128"/> values instead of one heap object each, nothing a caller holds can be
/// mutated under the writer after the fact, and the store seam does not depend on the wire format.
/// The contract's enums (statuses, states, flags) are reused as they are.
/// </para>
/// </summary>
public sealed partial class LedgerEngine : IAsyncDisposable
{
    private readonly LedgerOptions _options;
    private readonly ILedgerStore _store;
    private readonly TimeProvider _time;
    private readonly LedgerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Channel<WriterItem> _queue;
    private readonly LedgerWriter _writer;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _sweepTimer;
    private int _sweepQueued;
    private int _state; // 0 new, 1 running, 2 stopping or stopped

    public LedgerEngine(LedgerOptions options, ILedgerStore store, TimeProvider? timeProvider = null,
        ILogger<LedgerEngine>? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        options.Validate();
        _options = options;
        _store = store;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<LedgerEngine>.Instance;
        _metrics = new LedgerMetrics(meterFactory, options.CellName);
        _queue = Channel.CreateBounded<WriterItem>(new BoundedChannelOptions(options.QueueCapacityItems)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _writer = new LedgerWriter(store, options, _time, _metrics, _logger, _queue.Reader,
            () => Volatile.Write(ref _sweepQueued, 0), CommitHealth);
    }

    /// <summary>An engine over a SQLite store at <see cref="LedgerOptions.DatabasePath"/>.</summary>
    public static LedgerEngine CreateSqlite(LedgerOptions options, TimeProvider? timeProvider = null,
        ILogger<LedgerEngine>? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new LedgerEngine(options, new SqliteLedgerStore(options.DatabasePath), timeProvider, logger, meterFactory);
    }

    public LedgerOptions Options => _options;

    /// <summary>False while the last batch failed to commit (a full disk, a lost database): the process's readiness.</summary>
    public LedgerCommitHealth CommitHealth { get; } = new();

    /// <summary>Batches committed so far and what they held; the bench reads the average batch size here.</summary>
    public LedgerEngineStatistics Statistics =>
        new(_writer.BatchesCommitted, _writer.ItemsCommitted, _writer.TransfersCommitted);

    /// <summary>Opens the store (applying migrations), loads the accounts and starts the writer and the expiry timer.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The ledger engine was already started.");
        }
        try
        {
            _store.Open(_options.PartitionCount);
            var made = _store.LoadCell() is null;
            var mayTake = !made || _options.ClaimFirstStore is not { } claim || await claim(cancellationToken);
            _writer.Ownership = LoadOwnership(mayTake);
            _writer.Load();
            if (_options.CellStoreKept is { } kept)
            {
                if (made)
                {
                    await kept(true, cancellationToken);
                }
                else
                {
                    _ = TellStoreKeptAsync(kept);
                }
            }
        }
        catch
        {
            Volatile.Write(ref _state, 2);
            _writerStopped.TrySetResult();
            throw;
        }
        var thread = new Thread(RunWriter) { IsBackground = true, Name = "ledger-writer" };
        thread.Start();
        _sweepTimer = _time.CreateTimer(_ => RequestSweep(), null, _options.ExpirySweepInterval, _options.ExpirySweepInterval);
        LogStarted(_options.DatabasePath, _options.PartitionCount);
    }

    /// <summary>Raised (on the writer's thread: handlers must not block) when a committed batch owes credit legs to other cells.</summary>
    public event Action? CreditLegsOwed
    {
        add => _writer.OwedLegsCommitted += value;
        remove => _writer.OwedLegsCommitted -= value;
    }

    /// <summary>Raised (on the writer's thread: handlers must not block) when a committed batch wrote outbox events.</summary>
    public event Action? EventsCommitted
    {
        add => _writer.EventsCommitted += value;
        remove => _writer.EventsCommitted -= value;
    }

    /// <summary>The last committed outbox event's cell sequence (0: none).</summary>
    public long OutboxCellSequence => _writer.CommittedCellSequence;

    /// <summary>The highest cell sequence known published: recorded in the store, or reported since by <see cref="OutboxPublished"/>.</summary>
    public long OutboxWatermark => _writer.OutboxWatermark;

    /// <summary>
    /// Tells the writer that every outbox event up to <paramref name="cellSequence"/> is in the event
    /// log: its next batch records the watermark and prunes the outbox below it (the periodic sweep
    /// makes that batch when no other comes).
    /// </summary>
    public void OutboxPublished(long cellSequence) => _writer.OutboxPublished(cellSequence);

    /// <summary>
    /// The events right after <paramref name="afterCellSequence"/> as the writer committed them, held
    /// in memory (at most <paramref name="limit"/>); null when they are not held and the relay must
    /// read the outbox (<see cref="ReadOutboxAsync"/>).
    /// </summary>
    public IReadOnlyList<LedgerOutboxEvent>? TakeCommittedEvents(long afterCellSequence, int limit) =>
        _writer.Committed.TakeAfter(afterCellSequence, limit);

    /// <summary>Committed outbox events after <paramref name="afterCellSequence"/>, in order (the relay's read).</summary>
    public Task<IReadOnlyList<LedgerOutboxEvent>> ReadOutboxAsync(long afterCellSequence, int limit, CancellationToken cancellationToken = default) =>
        _store.ReadOutboxAsync(afterCellSequence, limit, cancellationToken);

    /// <summary>What this cell owns now (the truth for what it serves).</summary>
    public CellOwnership Ownership => _writer.Ownership;

    /// <summary>
    /// The store's cell identity and ownership, made on a new store from the options. A store of
    /// another cell or cluster is refused: serving it would answer for data this cell does not hold.
    /// </summary>
    /// <summary>A restart's <see cref="LedgerOptions.CellStoreKept"/>, off the start's path: a failure is logged, never thrown.</summary>
    private async Task TellStoreKeptAsync(Func<bool, CancellationToken, Task> kept)
    {
        try
        {
            await kept(false, CancellationToken.None);
        }
        catch (Exception error)
        {
            LogStoreKeptNotTold(_options.CellName, error.Message);
        }
    }

    [LoggerMessage(EventId = 1413, Level = LogLevel.Warning, Message = "Cell {Cell}'s store could not be recorded as made ({Reason}); the next start tries again")]
    private partial void LogStoreKeptNotTold(string cell, string reason);

    private CellOwnership LoadOwnership(bool mayTakeInitialPartitions)
    {
        var record = _store.LoadCell();
        if (record is null)
        {
            var owned = !mayTakeInitialPartitions ? [] : _options.InitialPartitions ?? Enumerable.Range(0, _options.PartitionCount).ToArray();
            _store.InitialiseCell(_options.CellName, _options.ClusterId, owned);
            record = _store.LoadCell() ?? throw new InvalidOperationException("The ledger store did not keep its cell identity.");
            LogCellCreated(_options.CellName, owned.Count);
        }
        if (!string.Equals(record.Cell, _options.CellName, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"This ledger store belongs to cell '{record.Cell}', not '{_options.CellName}': a cell serves only its own store. Start it with --cell {record.Cell}, or give cell '{_options.CellName}' its own store.");
        }
        if (_options.ClusterId.Length > 0 && record.ClusterId.Length > 0 && !string.Equals(record.ClusterId, _options.ClusterId, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"This ledger store belongs to cluster {record.ClusterId}, but the placement map is cluster {_options.ClusterId}: refusing to serve another bank's data.");
        }
        return new CellOwnership(record.Cell, record.ClusterId, _options.PartitionCount, record.Ownership);
    }

    /// <summary>Stops taking new work, lets the writer commit everything already queued, then closes the store.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var previous = Interlocked.Exchange(ref _state, 2);
        if (previous == 2)
        {
            await _writerStopped.Task.WaitAsync(cancellationToken);
            return;
        }
        if (_sweepTimer is not null)
        {
            await _sweepTimer.DisposeAsync();
        }
        _queue.Writer.TryComplete();
        if (previous == 1)
        {
            await _writerStopped.Task.WaitAsync(cancellationToken);
        }
        else
        {
            _writerStopped.TrySetResult();
        }
        _store.Dispose();
        _metrics.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>
    /// Submits transfers; each is decided on its own, in order. Completes with one result per
    /// transfer once the batch holding the last of them is durable. Waits while the queue is full.
    /// Throws <see cref="LedgerUnavailableException"/> when the batch could not be committed (retry
    /// with the same ids is safe). If <paramref name="cancellationToken"/> fires after some
    /// transfers were queued, they may still commit: resubmit with the same ids to learn how.
    /// </summary>
    public Task<IReadOnlyList<LedgerTransferResult>> SubmitAsync(IReadOnlyList<LedgerTransfer> transfers, CancellationToken cancellationToken = default) =>
        SubmitAsync(transfers, remoteAccounts: null, cancellationToken);

    /// <summary>
    /// As <see cref="SubmitAsync(IReadOnlyList{LedgerTransfer}, CancellationToken)"/>, with the
    /// credit accounts that live in other cells' partitions as their owners answered (identity
    /// only): without one, a transfer to such an account is CREDIT_ACCOUNT_NOT_FOUND.
    /// </summary>
    public Task<IReadOnlyList<LedgerTransferResult>> SubmitAsync(IReadOnlyList<LedgerTransfer> transfers,
        IReadOnlyDictionary<UInt128, LedgerAccount>? remoteAccounts, CancellationToken cancellationToken = default) =>
        SubmitAsync(transfers, remoteAccounts, lookedUpWith: null, cancellationToken);

    /// <summary>
    /// As above, with the ownership snapshot <paramref name="lookedUpWith"/> by which the caller
    /// decided which credit accounts were remote: a transfer whose credit partition came to this
    /// cell or left it since is refused with MOVING (retry the same request), never decided as
    /// "credit account not found" for an account that merely moved.
    /// </summary>
    public async Task<IReadOnlyList<LedgerTransferResult>> SubmitAsync(IReadOnlyList<LedgerTransfer> transfers,
        IReadOnlyDictionary<UInt128, LedgerAccount>? remoteAccounts, CellOwnership? lookedUpWith, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transfers);
        if (transfers.Count > LedgerLimits.SubmitTransfersMax)
        {
            throw new ArgumentOutOfRangeException(nameof(transfers), transfers.Count, $"At most {LedgerLimits.SubmitTransfersMax} transfers per call.");
        }
        for (var i = 0; i < transfers.Count; i++)
        {
            if (transfers[i] is not { Currency: not null, Metadata: not null })
            {
                throw new ArgumentException($"transfers[{i}] is null or has a null Currency or Metadata.", nameof(transfers));
            }
        }
        if (transfers.Count == 0)
        {
            return [];
        }
        var submission = new TransferSubmission(transfers, remoteAccounts, lookedUpWith);
        await EnqueueAsync(submission, WriterItemKind.Transfer, transfers.Count, cancellationToken);
        return submission.Results;
    }

    /// <summary>Creates accounts, idempotently by id. Completes once durable.</summary>
    public async Task<IReadOnlyList<LedgerAccountResult>> CreateAccountsAsync(IReadOnlyList<LedgerAccount> accounts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        if (accounts.Count > LedgerLimits.CreateAccountsMax)
        {
            throw new ArgumentOutOfRangeException(nameof(accounts), accounts.Count, $"At most {LedgerLimits.CreateAccountsMax} accounts per call.");
        }
        for (var i = 0; i < accounts.Count; i++)
        {
            if (accounts[i] is not { Currency: not null })
            {
                throw new ArgumentException($"accounts[{i}] is null or has a null Currency.", nameof(accounts));
            }
        }
        if (accounts.Count == 0)
        {
            return [];
        }
        var submission = new AccountSubmission(accounts);
        await EnqueueAsync(submission, WriterItemKind.Account, accounts.Count, cancellationToken);
        return submission.Results;
    }

    /// <summary>Writes credit legs other cells deliver (ApplyCreditLegs), idempotently by id. Completes once durable.</summary>
    public async Task<IReadOnlyList<LedgerTransferResult>> ApplyCreditLegsAsync(IReadOnlyList<LedgerTransfer> legs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(legs);
        if (legs.Count > LedgerLimits.SubmitTransfersMax)
        {
            throw new ArgumentOutOfRangeException(nameof(legs), legs.Count, $"At most {LedgerLimits.SubmitTransfersMax} legs per call.");
        }
        if (legs.Count == 0)
        {
            return [];
        }
        var submission = new CreditLegSubmission(legs);
        await EnqueueAsync(submission, WriterItemKind.CreditLeg, legs.Count, cancellationToken);
        return submission.Results;
    }

    /// <summary>Marks owed credit legs delivered, or returns their money to the debit account. Completes once durable.</summary>
    public async Task SettleCreditLegsAsync(IReadOnlyList<(OwedCreditLeg Owed, OwedLegState Outcome)> settlements, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settlements);
        if (settlements.Count == 0)
        {
            return;
        }
        await EnqueueAsync(new SettlementSubmission(settlements), WriterItemKind.Settlement, settlements.Count, cancellationToken);
        foreach (var (owed, _) in settlements)
        {
            if (_legWaiters.TryRemove(owed.Leg.Id, out var waiter))
            {
                waiter.TrySetResult();
            }
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<UInt128, TaskCompletionSource> _legWaiters = new();

    /// <summary>
    /// Completes when the credit leg of transfer <paramref name="id"/> owed to another cell is
    /// settled here (delivered, or returned). Register before submitting the transfer; <see cref="ForgetCreditLeg"/> after.
    /// </summary>
    internal Task CreditLegSettled(UInt128 id) =>
        _legWaiters.GetOrAdd(id, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    internal void ForgetCreditLeg(UInt128 id) => _legWaiters.TryRemove(id, out _);

    /// <summary>Credit legs owed to other cells by partitions this cell serves, not yet settled, oldest first.</summary>
    public Task<IReadOnlyList<OwedCreditLeg>> GetOwedCreditLegsAsync(int limit, CancellationToken cancellationToken = default) =>
        _store.GetOwedCreditLegsAsync(limit, _writer.CopiesNotServed, cancellationToken);

    /// <summary>Expires every hold whose time has passed now, and completes once that is durable.</summary>
    public Task ExpireHoldsAsync(CancellationToken cancellationToken = default) =>
        EnqueueAsync(new SweepSubmission(), WriterItemKind.Sweep, 1, cancellationToken);

    /// <summary>The accounts found among <paramref name="ids"/> (committed state); unknown ids are simply absent.</summary>
    public Task<IReadOnlyList<LedgerAccount>> GetAccountsAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken = default) =>
        GetAccountsAsync(ids, Ownership, cancellationToken);

    /// <summary>
    /// The accounts found among <paramref name="ids"/> in the partitions <paramref name="ownership"/>
    /// (a snapshot the caller took) serves. A caller that reports the rest as not found must check
    /// with <see cref="CellOwnership.ServedThroughout"/> that their partitions were served throughout the read.
    /// </summary>
    public async Task<IReadOnlyList<LedgerAccount>> GetAccountsAsync(IReadOnlyList<UInt128> ids, CellOwnership ownership, CancellationToken cancellationToken = default)
    {
        CheckLookup(ids);
        ArgumentNullException.ThrowIfNull(ownership);
        var served = ids;
        if (!ownership.ServesAll)
        {
            // Ids of partitions this cell does not serve are neither found nor missing here.
            served = ids.Where(id => ownership.Serves(LedgerPartitioner.PartitionOf(id, _options.PartitionCount))).ToArray();
        }
        var found = await _store.GetAccountsAsync(served, cancellationToken);
        _metrics.NotFound("account", served.Count - found.Count);
        return found;
    }

    /// <summary>The transfers found among <paramref name="ids"/>; unknown ids are simply absent.</summary>
    public Task<IReadOnlyList<LedgerTransfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken = default) =>
        GetTransfersAsync(ids, Ownership, cancellationToken);

    /// <summary>The transfers found among <paramref name="ids"/> in the partitions <paramref name="ownership"/> serves (see <see cref="GetAccountsAsync(IReadOnlyList{UInt128}, CellOwnership, CancellationToken)"/>).</summary>
    public async Task<IReadOnlyList<LedgerTransfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids, CellOwnership ownership, CancellationToken cancellationToken = default)
    {
        CheckLookup(ids);
        ArgumentNullException.ThrowIfNull(ownership);
        var found = await _store.GetTransfersAsync(ids, cancellationToken);
        if (!ownership.ServesAll)
        {
            // The store may hold copies of partitions this cell does not serve: those are not its answers.
            found = found.Where(transfer => ownership.Serves(transfer.PartitionOf(_options.PartitionCount))).ToArray();
        }
        _metrics.NotFound("transfer", ids.Count - found.Count);
        return found;
    }

    /// <summary>
    /// The transfers among <paramref name="ids"/> that are committed, without counting the others
    /// as not-found lookups: for the namespace check, which asks about ids it expects to be new.
    /// </summary>
    internal async Task<IReadOnlyList<LedgerTransfer>> FindCommittedTransfersAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        CheckLookup(ids);
        var ownership = Ownership;
        var found = await _store.GetTransfersAsync(ids, cancellationToken);
        return ownership.ServesAll ? found : found.Where(transfer => ownership.Serves(transfer.PartitionOf(_options.PartitionCount))).ToArray();
    }

    internal LedgerMetrics Metrics => _metrics;

    /// <summary>
    /// One page of the account's transfers (debit or credit side), newest first; null when the
    /// account does not exist. <paramref name="cursor"/> is empty for the first page, else a
    /// previous page's <see cref="LedgerTransferPage.NextCursor"/>; <paramref name="limit"/> 0 means
    /// <see cref="LedgerLimits.ListTransfersLimitDefault"/>; <paramref name="sinceUnixMs"/> &gt; 0
    /// keeps only transfers at or after that time. Bad arguments throw <see cref="ArgumentException"/>
    /// naming the parameter.
    /// </summary>
    public async Task<LedgerTransferPage?> ListAccountTransfersAsync(UInt128 accountId, string? cursor, int limit, long sinceUnixMs, CancellationToken cancellationToken = default)
    {
        if (limit is < 0 or > LedgerLimits.ListTransfersLimitMax)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be 0 (default {LedgerLimits.ListTransfersLimitDefault}) to {LedgerLimits.ListTransfersLimitMax}.");
        }
        if (sinceUnixMs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sinceUnixMs), sinceUnixMs, "since must not be negative.");
        }
        var before = long.MaxValue;
        if (!string.IsNullOrEmpty(cursor) && !LedgerCursor.TryDecode(cursor, accountId, out before))
        {
            throw new ArgumentException("cursor is not one this ledger issued for this account; start again from the first page.", nameof(cursor));
        }
        var partition = LedgerPartitioner.PartitionOf(accountId, _options.PartitionCount);
        var ownership = Ownership;
        if (ownership.Refusal(partition) is { } refusal)
        {
            _metrics.PartitionRefused(refusal.Reason);
            throw new LedgerWrongOwnerException(refusal);
        }
        var accounts = await _store.GetAccountsAsync([accountId], cancellationToken);
        var pageSize = limit == 0 ? LedgerLimits.ListTransfersLimitDefault : limit;
        var rows = accounts.Count == 0 ? [] : await _store.ListAccountTransfersAsync(accountId, before, sinceUnixMs, pageSize + 1, cancellationToken);
        if (!CellOwnership.ServedThroughout(ownership, Ownership, partition))
        {
            // The partition moved during the read: its rows may be going; the new owner answers.
            var moved = CellOwnership.RefusalAfter(Ownership, partition);
            _metrics.PartitionRefused(moved.Reason);
            throw new LedgerWrongOwnerException(moved);
        }
        if (accounts.Count == 0)
        {
            _metrics.NotFound("account", 1);
            return null;
        }
        if (rows.Count <= pageSize)
        {
            return new LedgerTransferPage(rows, "");
        }
        var page = rows.Take(pageSize).ToArray();
        return new LedgerTransferPage(page, LedgerCursor.Encode(accountId, page[^1].Sequence));
    }

    private async Task EnqueueAsync(Submission submission, WriterItemKind kind, int count, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _state) != 1)
        {
            throw new LedgerUnavailableException("The ledger is not running.");
        }
        var writer = _queue.Writer;
        for (var i = 0; i < count; i++)
        {
            var item = new WriterItem(kind, i, submission);
            if (!writer.TryWrite(item))
            {
                try
                {
                    await writer.WriteAsync(item, cancellationToken);
                }
                catch (ChannelClosedException error)
                {
                    // Its items already queued are then skipped by the writer rather than committed
                    // after this caller was told the call failed; one being decided right now may still commit.
                    var stopping = new LedgerUnavailableException(
                        "The ledger is stopping and did not take this whole call; transfers of it queued before the stop may still have been committed: resubmit with the same ids once it is back to learn their outcome.",
                        error);
                    submission.Fail(stopping);
                    // Observed here: the caller gets the exception thrown below, never the task.
                    _ = submission.Completion.Exception;
                    throw stopping;
                }
            }
        }
        await submission.Completion.WaitAsync(cancellationToken);
    }

    private void RequestSweep()
    {
        if (Interlocked.CompareExchange(ref _sweepQueued, 1, 0) != 0)
        {
            return;
        }
        // Never wait on a full queue from the timer: under that much load the next tick will do.
        if (!_queue.Writer.TryWrite(new WriterItem(WriterItemKind.Sweep, 0, null)))
        {
            Volatile.Write(ref _sweepQueued, 0);
        }
    }

    private void RunWriter()
    {
        try
        {
            _writer.Run(() =>
            {
                if (_writer.TakeSweepAgain())
                {
                    RequestSweep();
                }
            });
        }
        catch (Exception error)
        {
            LogWriterCrashed(error);
            // Whatever is still queued will never be decided: fail it rather than hang its callers.
            _queue.Writer.TryComplete(error);
            while (_queue.Reader.TryRead(out var item))
            {
                item.Owner?.Fail(new LedgerUnavailableException("The ledger's writer stopped.", error));
            }
        }
        finally
        {
            _writerStopped.TrySetResult();
        }
    }

    private static void CheckLookup(IReadOnlyList<UInt128> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count > LedgerLimits.LookupIdsMax)
        {
            throw new ArgumentOutOfRangeException(nameof(ids), ids.Count, $"At most {LedgerLimits.LookupIdsMax} ids per lookup.");
        }
    }

    [LoggerMessage(EventId = 1410, Level = LogLevel.Information, Message = "Ledger started on {DatabasePath} with {PartitionCount} partitions")]
    private partial void LogStarted(string databasePath, int partitionCount);

    [LoggerMessage(EventId = 1412, Level = LogLevel.Information, Message = "This ledger store became cell {Cell}, owning {Partitions} partitions at epoch 1")]
    private partial void LogCellCreated(string cell, int partitions);

    [LoggerMessage(EventId = 1411, Level = LogLevel.Critical, Message = "The ledger's writer thread crashed")]
    private partial void LogWriterCrashed(Exception error);
}

/// <summary>Counts since start: batches committed, queue items in them, and new transfers.</summary>
public readonly record struct LedgerEngineStatistics(long BatchesCommitted, long ItemsCommitted, long TransfersCommitted)
{
    public double AverageBatchSize => BatchesCommitted == 0 ? 0 : (double)ItemsCommitted / BatchesCommitted;
}
