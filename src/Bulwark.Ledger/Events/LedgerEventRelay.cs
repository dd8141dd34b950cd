using Bulwark.EventLog;
using Bulwark.Ledger.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Events;

/// <summary>
/// Publishes one cell's committed changes to the event log (docs/internals/event-log.md, "The
/// relay"): reads the store's outbox above its watermark in order, appends the events to the log,
/// then tells the engine the new watermark, which the writer's next batch records (and prunes the
/// outbox below) in its own transaction. At-least-once from here — a crash between the append and
/// the recorded watermark republishes — and exactly-once in the log, whose duplicate rule makes a
/// republished record a no-op. The ledger never waits for the relay: while the log is unavailable
/// commits go on, the outbox grows, and the relay retries with bounded backoff and catches up.
/// </summary>
public sealed partial class LedgerEventRelay : BackgroundService
{
    private readonly LedgerEngine _engine;
    private readonly IEventLog _log;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LedgerEventRelayMetrics _metrics;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private long _watermark = -1;
    private long _oldestUnpublishedUnixMs;
    private bool _lagWarned;
    private bool _lostChecked;
    private bool _aheadChecked;

    public LedgerEventRelay(LedgerEngine engine, IEventLog log, TimeProvider time, ILogger<LedgerEventRelay> logger, LedgerEventRelayMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(metrics);
        _engine = engine;
        _log = log;
        _time = time ?? TimeProvider.System;
        _logger = logger;
        _metrics = metrics;
        _metrics.Observe(this);
    }

    public string Cell => _engine.Options.CellName;

    /// <summary>
    /// How long commits gather after one woke the relay before it reads the outbox (its last round
    /// full: no wait). Default <see cref="LedgerLimits.RelayLingerMillisecondsDefault"/> ms; zero
    /// publishes at every wake (the benchmark's comparison).
    /// </summary>
    public TimeSpan Linger
    {
        get => _linger;
        init => _linger = Bounded(value, LedgerLimits.RelayLingerMillisecondsMax, "linger");
    }

    private readonly TimeSpan _linger = TimeSpan.FromMilliseconds(LedgerLimits.RelayLingerMillisecondsDefault);

    /// <summary>
    /// How long <see cref="StartAsync"/> waits for the behind-the-log check before the cell serves
    /// (default <see cref="LedgerLimits.RelayStartCheckMillisecondsDefault"/> ms; zero: no wait, the
    /// check is the first round's).
    /// </summary>
    public TimeSpan StartCheckBound
    {
        get => _startCheckBound;
        init => _startCheckBound = Bounded(value, LedgerLimits.RelayStartCheckMillisecondsMax, "start check bound");
    }

    private readonly TimeSpan _startCheckBound = TimeSpan.FromMilliseconds(LedgerLimits.RelayStartCheckMillisecondsDefault);

    private static TimeSpan Bounded(TimeSpan value, int maxMilliseconds, string what) =>
        value >= TimeSpan.Zero && value <= TimeSpan.FromMilliseconds(maxMilliseconds)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"The relay's {what} must be 0 to {maxMilliseconds} ms.");

    /// <summary>The highest cell sequence this relay has published (-1 before it started).</summary>
    public long Watermark => Volatile.Read(ref _watermark);

    /// <summary>Partitions the cell owns and refuses: its store is behind the log for them (<see cref="RefuseWhereLogIsAheadAsync"/>).</summary>
    public int PartitionsBehindLog => _engine.Ownership.BehindLog.Count;

    /// <summary>Committed events not yet in the log.</summary>
    public long LagEvents => Math.Max(0, _engine.OutboxCellSequence - Math.Max(0, Watermark));

    /// <summary>How long the oldest event not yet in the log has waited (0 when caught up).</summary>
    public double LagSeconds
    {
        get
        {
            var oldest = Volatile.Read(ref _oldestUnpublishedUnixMs);
            return oldest == 0 || LagEvents == 0 ? 0 : Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() - oldest) / 1000.0);
        }
    }

    /// <summary>Asks for a round now (the writer calls it after a batch with events; never blocks).</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already woken: the round reads everything committed.
            }
        }
    }

    /// <summary>
    /// Compares the store with the log before the cell serves (R9): hosted services start before
    /// the host listens and registers, so a partition the log holds further is refused before any
    /// caller can read its old rows or write at event numbers the log already holds. Bounded by
    /// <see cref="StartCheckBound"/>: a log that does not answer in time leaves the check to the
    /// relay's rounds (logged, event 1709) and the cell serves — the ledger never waits on the log for good.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_startCheckBound > TimeSpan.Zero)
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(_startCheckBound);
            try
            {
                // Asked again within the bound (a log client still connecting fails the first ask at
                // once), backing off as the rounds do so that a log that is down is not asked in a loop.
                var backoff = LedgerLimits.RelayBackoffMinMilliseconds;
                while (!(_aheadChecked = await RefuseWhereLogIsAheadAsync(bounded.Token)))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(backoff), bounded.Token);
                    backoff = Math.Min(backoff * 2, LedgerLimits.RelayBackoffMaxMilliseconds);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                _aheadChecked = false;
            }
            if (!_aheadChecked)
            {
                LogStartCheckDeferred(Cell, _startCheckBound.TotalSeconds);
            }
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _engine.EventsCommitted += Wake;
        try
        {
            Volatile.Write(ref _watermark, _engine.OutboxWatermark);
            var backoff = LedgerLimits.RelayBackoffMinMilliseconds;
            while (!stoppingToken.IsCancellationRequested)
            {
                string? failure;
                int published;
                try
                {
                    if (!_aheadChecked)
                    {
                        // Once per start, first: a partition whose history the log holds further
                        // than the store stops being served before anything else happens to it.
                        _aheadChecked = await RefuseWhereLogIsAheadAsync(stoppingToken);
                    }
                    if (!_lostChecked)
                    {
                        // Once per start, as soon as the log answers: before the watermark's events, which follow them.
                        (_, _lostChecked) = await RepublishLostAsync(stoppingToken);
                    }
                    (published, failure) = await PublishOnceAsync(stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                CheckLag();
                if (failure is not null)
                {
                    await DelayAsync(TimeSpan.FromMilliseconds(backoff), stoppingToken);
                    backoff = Math.Min(backoff * 2, LedgerLimits.RelayBackoffMaxMilliseconds);
                    continue;
                }
                backoff = LedgerLimits.RelayBackoffMinMilliseconds;
                if (published < LedgerLimits.RelayBatchEventsMax && await WaitForCommitAsync(stoppingToken) && _linger > TimeSpan.Zero)
                {
                    // Real time, not the TimeProvider's: this only spaces rounds out, and a test's
                    // frozen clock must not stop the relay.
                    await LingerAsync(stoppingToken);
                }
            }
        }
        finally
        {
            _engine.EventsCommitted -= Wake;
        }
    }

    /// <summary>
    /// One round: reads up to <see cref="LedgerLimits.RelayBatchEventsMax"/> events above the
    /// watermark and appends them. Returns how many were published, or why none were.
    /// </summary>
    public async Task<(int Published, string? Failure)> PublishOnceAsync(CancellationToken cancellationToken)
    {
        if (Watermark < 0)
        {
            Volatile.Write(ref _watermark, _engine.OutboxWatermark);
        }
        IReadOnlyList<LedgerOutboxEvent> events;
        try
        {
            // What the writer just committed is in memory; the outbox is read only when it is not
            // (a restart, a move's event, a relay far behind).
            events = _engine.TakeCommittedEvents(Watermark, LedgerLimits.RelayBatchEventsMax)
                ?? await _engine.ReadOutboxAsync(Watermark, LedgerLimits.RelayBatchEventsMax, cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            return Failed("store", error);
        }
        if (events.Count == 0)
        {
            Volatile.Write(ref _oldestUnpublishedUnixMs, 0);
            return (0, null);
        }
        Volatile.Write(ref _oldestUnpublishedUnixMs, events[0].CommittedAtUnixMs);
        var published = 0;
        foreach (var run in Runs(events))
        {
            var records = new EventRecord[run.Count];
            for (var i = 0; i < run.Count; i++)
            {
                var outboxEvent = run[i];
                records[i] = new EventRecord(outboxEvent.Partition, outboxEvent.PartitionSequence, Cell, outboxEvent.CellSequence, outboxEvent.Kind, outboxEvent.Payload);
            }
            AppendResult result;
            try
            {
                result = await _log.AppendAsync(records, cancellationToken);
            }
            catch (EventLogException error)
            {
                var failed = Failed(Reason(error.Error), error);
                return (published, failed.Item2);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                var failed = Failed("failed", error);
                return (published, failed.Item2);
            }
            var watermark = run[^1].CellSequence;
            Volatile.Write(ref _watermark, watermark);
            _engine.OutboxPublished(watermark);
            _metrics.Published(Cell, result.Appended, result.Duplicates);
            published += run.Count;
        }
        Volatile.Write(ref _oldestUnpublishedUnixMs, 0);
        return (published, null);
    }

    /// <summary>
    /// The check that this cell's store is not behind the log (R9, R13): every partition it owns
    /// whose log holds an event number the store never reached is refused from now on
    /// (<see cref="LedgerEngine.RefuseBehindLogAsync"/>) — the store was restored from an old
    /// backup, or its disk rolled back, and would answer accounts that exist "not found" and old
    /// balances, and number its next events at places the log already holds. The log is the
    /// witness outside the store; a cell is healthy when the log is at or behind it (a relay
    /// behind, a log that lost its newest events: <see cref="RepublishLostAsync"/>). Returns
    /// whether the check finished (false: the store or the log did not answer; tried again next round).
    /// </summary>
    public async Task<bool> RefuseWhereLogIsAheadAsync(CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<int, long> held;
        try
        {
            held = await _engine.OwnedPartitionSequencesAsync(cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            Failed("store", error);
            return false;
        }
        var behind = new List<(int Partition, long Store, long Log)>();
        foreach (var (partition, sequence) in held.OrderBy(entry => entry.Key))
        {
            long last;
            try
            {
                last = await _log.GetLastSequenceAsync(partition, cancellationToken);
            }
            catch (EventLogException error)
            {
                Failed(Reason(error.Error), error);
                return false;
            }
            if (last > sequence)
            {
                behind.Add((partition, sequence, last));
            }
        }
        if (behind.Count == 0)
        {
            return true;
        }
        IReadOnlyList<int> refused;
        try
        {
            refused = await _engine.RefuseBehindLogAsync([.. behind.Select(entry => entry.Partition)], cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // The writer did not take the refusal (stopping, or failed): asked again next round, never a crashed relay.
            Failed("store", error);
            return false;
        }
        if (refused.Count > 0)
        {
            var first = behind[0];
            LogBehindLog(Cell, behind.Count, string.Join(", ", behind.Take(8).Select(entry => entry.Partition)), first.Partition, first.Store, first.Log);
        }
        return true;
    }

    /// <summary>
    /// Puts back into the log the events this cell's outbox holds that the relay recorded as
    /// published and the log lacks — a file log restored from an older copy than the store, a broker
    /// that lost its newest acknowledged messages — which the relay, publishing only above its
    /// watermark, would otherwise never send again (and would wait behind for good, as a gap). From
    /// the outbox only, through <see cref="LedgerEventRepublisher"/>: the committed bytes at their
    /// own places, so an event the log does hold is a no-op. Pruning keeps each partition's newest
    /// event, so a lost tail of one event a partition comes back; a deeper loss is logged (event
    /// 1706) and left to a person (<c>bulwark reconcile</c> lists it). Returns how many records were
    /// appended, and whether the check finished (false: the log or the store did not answer; the
    /// relay tries again next round).
    /// </summary>
    public async Task<(int Appended, bool Completed)> RepublishLostAsync(CancellationToken cancellationToken)
    {
        var watermark = Math.Max(0, Watermark < 0 ? _engine.OutboxWatermark : Watermark);
        if (watermark == 0)
        {
            return (0, true);
        }
        // Every page up to the watermark: the newest events, the ones a log restored from an older
        // copy lacks, are the last pages of an outbox the sweep has not pruned yet (a full run
        // once missed them reading only the first page).
        var events = new List<LedgerOutboxEvent>();
        try
        {
            var after = 0L;
            while (after < watermark)
            {
                var page = await _engine.ReadOutboxAsync(after, LedgerLimits.RelayBatchEventsMax, cancellationToken);
                events.AddRange(page.Where(outboxEvent => outboxEvent.CellSequence <= watermark));
                if (page.Count < LedgerLimits.RelayBatchEventsMax)
                {
                    break;
                }
                after = page[^1].CellSequence;
            }
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            Failed("store", error);
            return (0, false);
        }
        var appended = 0;
        foreach (var partition in events.GroupBy(outboxEvent => outboxEvent.Partition))
        {
            try
            {
                appended += await RepublishLostAsync(partition.Key, [.. partition.OrderBy(outboxEvent => outboxEvent.PartitionSequence)], cancellationToken);
            }
            catch (EventLogException error)
            {
                Failed(Reason(error.Error), error);
                return (appended, false);
            }
        }
        return (appended, true);
    }

    private async Task<int> RepublishLostAsync(int partition, IReadOnlyList<LedgerOutboxEvent> held, CancellationToken cancellationToken)
    {
        var last = await _log.GetLastSequenceAsync(partition, cancellationToken);
        var lost = held.Where(outboxEvent => outboxEvent.PartitionSequence > last).ToList();
        if (lost.Count == 0)
        {
            return 0;
        }
        var gap = new MissingEvents(partition, last, lost[^1].PartitionSequence, true, lost, lost[0].PartitionSequence);
        if (!gap.Republishable || lost.Select((outboxEvent, index) => outboxEvent.PartitionSequence - index).Distinct().Count() != 1)
        {
            LogLostBeyondOutbox(Cell, partition, last + 1, gap.StoreLast, gap.OutboxFirst);
            return 0;
        }
        var result = await LedgerEventRepublisher.RepublishAsync(_log, Cell, gap, cancellationToken);
        _metrics.Published(Cell, result.Appended, result.Duplicates);
        LogRepublishedLost(Cell, partition, last + 1, gap.StoreLast, result.Appended);
        return result.Appended;
    }

    /// <summary>
    /// Splits the outbox's events, in cell order, into appends in which each partition's sequences
    /// go up one at a time. A partition that left this cell and came back has a jump in this
    /// cell's outbox (the numbers between are the other cell's history): the events after the jump
    /// go in a later append, which the log takes once the other cell has published its part (a
    /// <see cref="EventLogError.Gap"/> until then), so this cell's events before the jump are
    /// published meanwhile — and the other cell, whose own history may wait on them, is not held up.
    /// </summary>
    internal static IEnumerable<IReadOnlyList<LedgerOutboxEvent>> Runs(IReadOnlyList<LedgerOutboxEvent> events)
    {
        var run = new List<LedgerOutboxEvent>();
        var last = new Dictionary<int, long>();
        foreach (var outboxEvent in events)
        {
            if (last.TryGetValue(outboxEvent.Partition, out var previous) && outboxEvent.PartitionSequence != previous + 1)
            {
                yield return run;
                run = [];
                last.Clear();
            }
            run.Add(outboxEvent);
            last[outboxEvent.Partition] = outboxEvent.PartitionSequence;
        }
        if (run.Count > 0)
        {
            yield return run;
        }
    }

    private (int, string) Failed(string reason, Exception error)
    {
        _metrics.Failed(Cell, reason);
        if (reason == "gap")
        {
            // Another cell has not yet published the earlier part of a moved partition's history: wait for it.
            LogWaitingForGap(Cell, error.Message);
        }
        else if (reason == "conflict")
        {
            LogConflict(error, Cell);
        }
        else
        {
            LogAppendFailed(Cell, reason, error.Message);
        }
        return (0, reason);
    }

    private static string Reason(EventLogError error) => error switch
    {
        EventLogError.Gap => "gap",
        EventLogError.Conflict => "conflict",
        EventLogError.Unavailable => "unavailable",
        EventLogError.Locked => "locked",
        EventLogError.Corrupt => "corrupt",
        EventLogError.UnknownVersion => "unknown_version",
        EventLogError.Invalid => "invalid",
        _ => "failed",
    };

    private void CheckLag()
    {
        var events = LagEvents;
        var seconds = LagSeconds;
        var lagging = events > LedgerLimits.RelayLagEventsWarning || seconds > LedgerLimits.RelayLagSecondsWarning;
        if (lagging && !_lagWarned)
        {
            LogLagging(Cell, events, seconds);
        }
        else if (!lagging && _lagWarned)
        {
            LogCaughtUp(Cell, events);
        }
        _lagWarned = lagging;
    }

    /// <summary>Waits for a commit's wake or the idle poll; true when a commit woke it.</summary>
    private async Task<bool> WaitForCommitAsync(CancellationToken cancellationToken)
    {
        try
        {
            // The semaphore's own timeout (not the TimeProvider's): a wait abandoned on a timer would take a later wake.
            return await _wake.WaitAsync(TimeSpan.FromMilliseconds(LedgerLimits.RelayIdlePollMilliseconds), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the loop ends.
            return false;
        }
    }

    private async Task LingerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(_linger, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the loop ends, and StopAsync publishes what is left.
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the loop ends.
        }
    }

    /// <summary>
    /// Stops the loop, then publishes what is committed but not yet published, once, while the log
    /// answers (the cells stop after their relays, so a batch committed later stays in the outbox
    /// and is published at the next start: nothing is lost either way).
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        for (var round = 0; round < LedgerLimits.RelayDrainRoundsMax && Watermark < _engine.OutboxCellSequence && !cancellationToken.IsCancellationRequested; round++)
        {
            try
            {
                if ((await PublishOnceAsync(cancellationToken)).Failure is not null)
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Cell {Cell}'s events could not be appended to the event log ({Reason}: {Error}); the ledger keeps committing and the relay retries")]
    private partial void LogAppendFailed(string cell, string reason, string error);

    [LoggerMessage(EventId = 1702, Level = LogLevel.Information, Message = "Cell {Cell}'s events wait for another cell to publish the earlier part of a partition's history ({Error}); retrying")]
    private partial void LogWaitingForGap(string cell, string error);

    [LoggerMessage(EventId = 1703, Level = LogLevel.Critical, Message = "Cell {Cell}'s events conflict with what the event log holds at the same place: the log and the ledger disagree and a person must look; the relay retries and publishes nothing further until it passes")]
    private partial void LogConflict(Exception error, string cell);

    [LoggerMessage(EventId = 1708, Level = LogLevel.Critical, Message = "Cell {Cell}'s store is behind the event log for {Count} partition(s) it owns (first: {Partitions}; partition {Partition}: the store's last event {Store}, the log's {Log}): restored from an old copy, or its disk rolled back. They are refused (retriable, never \"not found\") until the cell is rebuilt from the log (bulwark ledger replay, docs/runbooks/ledger-replay.md)")]
    private partial void LogBehindLog(string cell, int count, string partitions, int partition, long store, long log);

    [LoggerMessage(EventId = 1709, Level = LogLevel.Warning, Message = "Cell {Cell} serves before its store could be compared with the event log (the log did not answer within {Seconds:F1} s): compared as soon as the log answers; until then a store restored from an old copy would not be caught")]
    private partial void LogStartCheckDeferred(string cell, double seconds);

    [LoggerMessage(EventId = 1704, Level = LogLevel.Warning, Message = "Cell {Cell}'s event log lags: {Events} events, the oldest {Seconds:F1} s old")]
    private partial void LogLagging(string cell, long events, double seconds);

    [LoggerMessage(EventId = 1706, Level = LogLevel.Critical, Message = "Cell {Cell}'s partition {Partition}: the event log lacks events {From} to {To}, which the relay published, and the outbox holds the partition's events only from {OutboxFirst}: a person must restore the log (docs/runbooks/reconcile.md)")]
    private partial void LogLostBeyondOutbox(string cell, int partition, long from, long to, long outboxFirst);

    [LoggerMessage(EventId = 1707, Level = LogLevel.Warning, Message = "Cell {Cell}'s partition {Partition}: the event log had lost events {From} to {To}, which the relay had published; republished from the outbox ({Appended} appended)")]
    private partial void LogRepublishedLost(string cell, int partition, long from, long to, int appended);

    [LoggerMessage(EventId = 1705, Level = LogLevel.Information, Message = "Cell {Cell}'s event log caught up ({Events} events behind)")]
    private partial void LogCaughtUp(string cell, long events);
}
