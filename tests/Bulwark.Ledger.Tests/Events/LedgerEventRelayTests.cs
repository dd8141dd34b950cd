using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Events;

/// <summary>The outbox and the relay on SQLite.</summary>
public sealed class SqliteLedgerEventRelayTests : LedgerEventRelayTests
{
    protected override string? NewPostgres() => null;
}

/// <summary>The outbox and the relay on a real PostgreSQL.</summary>
public sealed class PostgresLedgerEventRelayTests : LedgerEventRelayTests
{
    protected override string? NewPostgres() => PostgresTestServer.NewDatabase("events");
}

/// <summary>
/// The ledger's side of the event log (docs/internals/event-log.md): every batch's changes go to
/// the store's outbox in the batch's transaction, numbered without gaps by cell and by partition,
/// and the relay moves them to an <see cref="IEventLog"/> at least once, exactly once in the log.
/// </summary>
public abstract class LedgerEventRelayTests : IDisposable
{
    private const int Partitions = 8;
    private readonly TempDirectory _directory = new(inMemory: false);
    private readonly string? _postgres;

    protected LedgerEventRelayTests()
    {
        _postgres = NewPostgres();
    }

    protected abstract string? NewPostgres();

    public void Dispose()
    {
        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    private Task<TestLedger> StartLedgerAsync(Func<ILedgerStore, ILedgerStore>? wrapStore = null) =>
        TestLedger.StartAsync(directory: _directory, partitions: Partitions, postgres: _postgres, wrapStore: wrapStore);

    private FileEventLog OpenLog() => FileEventLog.Open(new FileEventLogOptions { Directory = Path.Combine(_directory.Path, "events") });

    private static LedgerEventRelay Relay(TestLedger ledger, IEventLog log) =>
        new(ledger.Engine, log, ledger.Time, NullLogger<LedgerEventRelay>.Instance, new LedgerEventRelayMetrics());

    private static async Task<int> Workload(TestLedger ledger, int from, int transfers)
    {
        var funding = await ledger.AccountAsync(from);
        var accounts = new List<UInt128>();
        for (var i = 1; i <= 6; i++)
        {
            accounts.Add(await ledger.AccountAsync(from + i));
        }
        var batch = Enumerable.Range(0, transfers).Select(i => TestLedger.Transfer(from + 100 + i, funding, accounts[i % accounts.Count], 10 + i)).ToArray();
        var results = await ledger.Engine.SubmitAsync(batch);
        Assert.All(results, result => Assert.Equal(TransferStatus.Ok, result.Status));
        return transfers;
    }

    private static async Task<IReadOnlyList<LedgerOutboxEvent>> OutboxAsync(TestLedger ledger) =>
        await ledger.Engine.ReadOutboxAsync(0, 100_000);

    private static async Task<List<EventRecord>> ReadAllAsync(IEventLog log)
    {
        var records = new List<EventRecord>();
        await foreach (var record in log.ReadPartitionsAsync(Enumerable.Range(0, Partitions)))
        {
            records.Add(record);
        }
        return records;
    }

    private static async Task PublishAllAsync(LedgerEventRelay relay, TestLedger ledger)
    {
        // Bounded by rounds, not time: each round publishes up to RelayBatchEventsMax events.
        for (var round = 0; round < 1_000 && relay.Watermark < ledger.Engine.OutboxCellSequence; round++)
        {
            var (_, failure) = await relay.PublishOnceAsync(default);
            Assert.Null(failure);
        }
        Assert.Equal(ledger.Engine.OutboxCellSequence, relay.Watermark);
    }

    /// <summary>A WHOLE row or the DEBIT leg: one per transfer (the CREDIT leg of a transfer between partitions is the same transfer).</summary>
    private static bool IsTransfer(Transfer row) => row.Leg is TransferLeg.Whole or TransferLeg.Debit;

    private static int TransfersIn(IEnumerable<EventRecord> records) =>
        records.Sum(r => PartitionChange.Parser.ParseFrom(r.Payload.ToArray()).TransfersWritten.Count(IsTransfer));

    private static void AssertGapless(IEnumerable<(long CellSequence, int Partition, long PartitionSequence)> events)
    {
        var list = events.ToList();
        Assert.Equal(Enumerable.Range(1, list.Count).Select(i => (long)i), list.Select(e => e.CellSequence));
        foreach (var partition in list.GroupBy(e => e.Partition))
        {
            Assert.Equal(Enumerable.Range(1, partition.Count()).Select(i => (long)i), partition.Select(e => e.PartitionSequence));
        }
    }

    [Fact]
    public async Task Commit_EveryBatch_EventsInTheOutboxWithGaplessSequencesAndTheRowsAndBalancesTheStoreHolds()
    {
        await using var ledger = await StartLedgerAsync();
        await Workload(ledger, 1_000, 50);

        var events = await OutboxAsync(ledger);

        AssertGapless(events.Select(e => (e.CellSequence, e.Partition, e.PartitionSequence)));
        var changes = events.Select(e => PartitionChange.Parser.ParseFrom(e.Payload)).ToList();
        Assert.All(changes, change => Assert.Equal(LedgerEventFormat.Version, change.FormatVersion));
        Assert.Equal(events.Select(e => (uint)e.Partition), changes.Select(change => change.Partition));
        var created = changes.SelectMany(change => change.AccountsCreated).Select(account => account.Id.ToUInt128()).ToHashSet();
        Assert.Superset(Enumerable.Range(1_000, 7).Select(id => (UInt128)id).ToHashSet(), created);
        var written = changes.SelectMany(change => change.TransfersWritten).Where(IsTransfer).Select(transfer => transfer.ToLedger() with
        {
            TimestampUnixMs = transfer.TimestampUnixMs,
            State = transfer.State,
            PostedAmount = transfer.PostedAmount,
            ExpiresAtUnixMs = transfer.ExpiresAtUnixMs,
            Sequence = transfer.Sequence,
        }).ToList();
        Assert.Equal(50, written.Count);
        var stored = await ledger.Engine.GetTransfersAsync(written.Select(transfer => transfer.Id).ToArray());
        Assert.Equal(stored.OrderBy(t => t.Sequence), written.OrderBy(t => t.Sequence));
        // Replaying the balances (the last image of each account, in order) gives the store's balances.
        var replayed = new Dictionary<UInt128, AccountBalances>();
        foreach (var balances in changes.SelectMany(change => change.Balances))
        {
            replayed[balances.Id.ToUInt128()] = balances;
        }
        foreach (var account in await ledger.Engine.GetAccountsAsync(replayed.Keys.ToArray()))
        {
            var image = replayed[account.Id];
            Assert.Equal((account.DebitsPending, account.DebitsPosted, account.CreditsPending, account.CreditsPosted),
                (image.DebitsPending, image.DebitsPosted, image.CreditsPending, image.CreditsPosted));
        }
    }

    [Fact]
    public async Task Commit_ABatchThatFails_WritesNoEventsAndTheNextBatchTakesTheSameSequences()
    {
        HookedStore? hooked = null;
        await using var ledger = await StartLedgerAsync(store => hooked = new HookedStore(store));
        await Workload(ledger, 1_000, 5);
        var before = ledger.Engine.OutboxCellSequence;
        var debit = await ledger.AccountAsync(2_000);
        var credit = await ledger.AccountAsync(2_001);
        hooked!.BeforeCommit = _ => throw new IOException("disk full");
        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.Engine.SubmitAsync([TestLedger.Transfer(2_100, debit, credit, 5)]));
        hooked.BeforeCommit = null;

        await ledger.TransferOkAsync(2_101, debit, credit, 7);

        var events = await OutboxAsync(ledger);
        AssertGapless(events.Select(e => (e.CellSequence, e.Partition, e.PartitionSequence)));
        Assert.True(ledger.Engine.OutboxCellSequence > before);
        var ids = events.SelectMany(e => PartitionChange.Parser.ParseFrom(e.Payload).TransfersWritten).Select(t => t.Id.ToUInt128()).ToHashSet();
        Assert.DoesNotContain((UInt128)2_100, ids);
        Assert.Contains((UInt128)2_101, ids);
    }

    [Fact]
    public async Task Relay_CrashBetweenCommitAndPublish_EngineRestarted_EverythingPublishedOnce()
    {
        await using (var ledger = await StartLedgerAsync())
        {
            await Workload(ledger, 1_000, 40);
        }
        await using var restarted = await StartLedgerAsync();
        await Workload(restarted, 3_000, 10);
        await using var log = OpenLog();
        var relay = Relay(restarted, log);

        await PublishAllAsync(relay, restarted);

        var records = await ReadAllAsync(log);
        var outbox = await OutboxAsync(restarted);
        Assert.Equal(outbox.Count, records.Count);
        AssertGapless(records.OrderBy(r => r.CellSequence).Select(r => (r.CellSequence, r.Partition, r.Sequence)));
        var transfers = records.SelectMany(r => PartitionChange.Parser.ParseFrom(r.Payload.ToArray()).TransfersWritten).Where(IsTransfer).Select(t => t.Id.ToUInt128()).ToList();
        Assert.Equal(50, transfers.Count);
        Assert.Equal(50, transfers.Distinct().Count());
        Assert.All(records, record => Assert.Equal("a", record.Cell));
    }

    [Fact]
    public async Task Relay_WatermarkLost_RepublishesAsDuplicatesWithoutConflict()
    {
        await using var log = OpenLog();
        await using (var ledger = await StartLedgerAsync())
        {
            await Workload(ledger, 1_000, 30);
            // Published, and the engine stops before any batch records the watermark.
            await PublishAllAsync(Relay(ledger, log), ledger);
        }
        await using var restarted = await StartLedgerAsync();
        Assert.Equal(0, restarted.Engine.OutboxWatermark);
        var relay = Relay(restarted, log);

        var (published, failure) = await relay.PublishOnceAsync(default);

        Assert.Null(failure);
        Assert.Equal(restarted.Engine.OutboxCellSequence, published);
        Assert.Equal(published, (await ReadAllAsync(log)).Count);
    }

    [Fact]
    public async Task Relay_StoreBehindTheLog_RefusesThosePartitionsNeverNotFound_AndServesAndPublishesTheOthers()
    {
        await using var log = OpenLog();
        await using var ledger = await StartLedgerAsync();
        var ids = Enumerable.Range(1, 40).Select(i => 5_000 + i).ToArray();
        var (behind, last) = await PutTheLogAheadAsync(ledger, log, ids);
        var relay = Relay(ledger, log);

        Assert.True(await relay.RefuseWhereLogIsAheadAsync(default));

        Assert.Equal([behind], ledger.Engine.Ownership.BehindLog);
        Assert.Equal(1, relay.PartitionsBehindLog);
        Assert.False(ledger.Engine.Ownership.ServesAll);
        // Its accounts: refused as not served (retriable), never "not found", never written to.
        var inBehind = ids.Where(id => LedgerPartitioner.PartitionOf(TestLedger.Id(id), Partitions) == behind).ToArray();
        var served = ids.First(id => LedgerPartitioner.PartitionOf(TestLedger.Id(id), Partitions) != behind);
        Assert.Equal(RefusalReason.NotOwner, ledger.Engine.Ownership.Refusal(behind)!.Value.Reason);
        Assert.Empty(await ledger.Engine.GetAccountsAsync([.. inBehind.Select(TestLedger.Id)]));
        var refused = await ledger.SubmitAsync(TestLedger.Transfer(9_001, TestLedger.Id(inBehind[0]), TestLedger.Id(served), 1));
        Assert.Equal(TransferStatus.WrongOwner, refused.Status);
        var paused = await Assert.ThrowsAsync<LedgerMoveRefusedException>(() => ledger.Engine.PausePartitionAsync(behind, ledger.Engine.Ownership[behind].Epoch, "b", 1_000));
        Assert.Contains("behind the event log", paused.Message, StringComparison.Ordinal);
        // The other partitions are served, and their events published without a conflict.
        var other = ids.Where(id => LedgerPartitioner.PartitionOf(TestLedger.Id(id), Partitions) != behind).Take(2).ToArray();
        var transfer = await ledger.SubmitAsync(TestLedger.Transfer(9_002, TestLedger.Id(other[0]), TestLedger.Id(other[1]), 5));
        Assert.Equal(TransferStatus.Ok, transfer.Status);
        await PublishAllAsync(relay, ledger);
        Assert.Equal(last + 1, await log.GetLastSequenceAsync(behind));
        // Asked again (the next start): nothing more to refuse.
        Assert.True(await relay.RefuseWhereLogIsAheadAsync(default));
        Assert.Equal([behind], ledger.Engine.Ownership.BehindLog);
    }

    [Fact]
    public async Task Relay_Start_StoreBehindTheLog_RefusedBeforeStartReturns_SoNoCallerReachesTheOldRows()
    {
        await using var inner = OpenLog();
        var ids = Enumerable.Range(1, 40).Select(i => 5_000 + i).ToArray();
        await using var ledger = await StartLedgerAsync();
        var (behind, _) = await PutTheLogAheadAsync(ledger, inner, ids);
        // A log that answers after a moment, as a broker across the network does: the check cannot
        // finish inside the relay's first synchronous steps.
        var log = new GatedLog(inner) { Delay = TimeSpan.FromMilliseconds(5) };
        using var relay = new LedgerEventRelay(ledger.Engine, log, ledger.Time, NullLogger<LedgerEventRelay>.Instance, new LedgerEventRelayMetrics())
        {
            // One answer per owned partition, each a few milliseconds: ample on a loaded machine.
            StartCheckBound = TimeSpan.FromMilliseconds(LedgerLimits.RelayStartCheckMillisecondsMax),
        };

        await relay.StartAsync(default);
        try
        {
            // The host listens only after its hosted services started: the refusal is in place first.
            Assert.Equal([behind], ledger.Engine.Ownership.BehindLog);
        }
        finally
        {
            await relay.StopAsync(default);
        }
    }

    [Fact]
    public async Task Relay_Start_LogHangs_TheCellServesAfterTheBound_AndIsCheckedWhenTheLogAnswers()
    {
        await using var inner = OpenLog();
        var ids = Enumerable.Range(1, 40).Select(i => 5_000 + i).ToArray();
        await using var ledger = await StartLedgerAsync();
        var (behind, _) = await PutTheLogAheadAsync(ledger, inner, ids);
        var log = new GatedLog(inner) { Hung = true };
        using var relay = new LedgerEventRelay(ledger.Engine, log, ledger.Time, NullLogger<LedgerEventRelay>.Instance, new LedgerEventRelayMetrics())
        {
            StartCheckBound = TimeSpan.FromMilliseconds(300),
        };

        // Bounded by the test, not timed: a start that waited on the hung log for good never returns.
        await relay.StartAsync(default).WaitAsync(TimeSpan.FromSeconds(30));
        try
        {
            Assert.Empty(ledger.Engine.Ownership.BehindLog);
            log.Hung = false;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (ledger.Engine.Ownership.BehindLog.Count == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.Equal([behind], ledger.Engine.Ownership.BehindLog);
        }
        finally
        {
            await relay.StopAsync(default);
        }
    }

    [Fact]
    public async Task Relay_BoundsOutsideTheirRange_RefusedNamingTheSetting()
    {
        await using var log = OpenLog();
        await using var ledger = await StartLedgerAsync();
        LedgerEventRelay Make(TimeSpan linger, TimeSpan startCheck) =>
            new(ledger.Engine, log, ledger.Time, NullLogger<LedgerEventRelay>.Instance, new LedgerEventRelayMetrics()) { Linger = linger, StartCheckBound = startCheck };

        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => Make(TimeSpan.Zero, TimeSpan.FromMilliseconds(-1)));
        var tooLong = Assert.Throws<ArgumentOutOfRangeException>(() => Make(TimeSpan.FromMilliseconds(LedgerLimits.RelayLingerMillisecondsMax + 1), TimeSpan.Zero));

        Assert.Contains("start check bound must be 0 to", negative.Message, StringComparison.Ordinal);
        Assert.Contains("linger must be 0 to", tooLong.Message, StringComparison.Ordinal);
        using var longest = Make(TimeSpan.FromMilliseconds(LedgerLimits.RelayLingerMillisecondsMax), TimeSpan.FromMilliseconds(LedgerLimits.RelayStartCheckMillisecondsMax));
        Assert.Equal(TimeSpan.FromMilliseconds(LedgerLimits.RelayStartCheckMillisecondsMax), longest.StartCheckBound);
    }

    /// <summary>
    /// Publishes the accounts <paramref name="ids"/> create, then puts in the log an event of the
    /// first one's partition this store never committed: the store is as if restored from a copy
    /// older than the log (the newest event's body stands in for the lost one). Returns that
    /// partition and its last event number before.
    /// </summary>
    private static async Task<(int Partition, long Last)> PutTheLogAheadAsync(TestLedger ledger, IEventLog log, int[] ids)
    {
        foreach (var id in ids)
        {
            await ledger.AccountAsync(id);
        }
        await PublishAllAsync(Relay(ledger, log), ledger);
        var behind = LedgerPartitioner.PartitionOf(TestLedger.Id(ids[0]), Partitions);
        var last = await log.GetLastSequenceAsync(behind);
        EventRecord newest = null!;
        await foreach (var record in log.ReadAsync(behind, last))
        {
            newest = record;
        }
        await log.AppendAsync([new EventRecord(behind, last + 1, newest.Cell, newest.CellSequence + 1_000, newest.Kind, newest.Payload)]);
        return (behind, last);
    }

    [Fact]
    public async Task Relay_WatermarkRecorded_OutboxPrunedButEachPartitionsNumberingResumesAfterRestart()
    {
        await using var log = OpenLog();
        await using (var ledger = await StartLedgerAsync())
        {
            await Workload(ledger, 1_000, 30);
            await PublishAllAsync(Relay(ledger, log), ledger);
            // The next batch records the watermark and prunes the outbox, keeping each partition's newest event.
            await ledger.Engine.ExpireHoldsAsync();
            Assert.True((await OutboxAsync(ledger)).Count <= Partitions);
        }
        await using var restarted = await StartLedgerAsync();
        Assert.True(restarted.Engine.OutboxWatermark > 0);
        await Workload(restarted, 3_000, 20);
        var relay = Relay(restarted, log);

        await PublishAllAsync(relay, restarted);

        var records = await ReadAllAsync(log);
        AssertGapless(records.OrderBy(r => r.CellSequence).Select(r => (r.CellSequence, r.Partition, r.Sequence)));
        Assert.Equal(50, TransfersIn(records));
    }

    [Fact]
    public async Task Relay_LogUnavailable_CommitsGoOnLagGrowsThenCatchesUp()
    {
        await using var inner = OpenLog();
        var log = new SwitchableLog(inner) { Down = true };
        await using var ledger = await StartLedgerAsync();
        var relay = Relay(ledger, log);
        await Workload(ledger, 1_000, 10);

        var (_, failure) = await relay.PublishOnceAsync(default);
        Assert.Equal("unavailable", failure);
        var lag = relay.LagEvents;
        await Workload(ledger, 2_000, 10);
        Assert.Equal("unavailable", (await relay.PublishOnceAsync(default)).Failure);
        Assert.True(relay.LagEvents > lag);
        Assert.True(relay.LagSeconds >= 0);

        log.Down = false;
        await PublishAllAsync(relay, ledger);

        Assert.Equal(0, relay.LagEvents);
        Assert.Equal(20, TransfersIn(await ReadAllAsync(inner)));
    }

    [Fact]
    public async Task Relay_FileLogLockedByAnotherOpener_CommitsGoOnThenCatchesUpOnceReleased()
    {
        var options = new FileEventLogOptions { Directory = Path.Combine(_directory.Path, "events") };
        await using var ledger = await StartLedgerAsync();
        await using var reopening = ReopeningEventLog.File(options);
        var relay = Relay(ledger, reopening);
        var holder = FileEventLog.Open(options);
        await Workload(ledger, 1_000, 10);

        Assert.Equal("locked", (await relay.PublishOnceAsync(default)).Failure);
        await Workload(ledger, 2_000, 10);
        Assert.Equal("locked", (await relay.PublishOnceAsync(default)).Failure);
        Assert.True(relay.LagEvents > 0);
        await holder.DisposeAsync();

        await PublishAllAsync(relay, ledger);

        Assert.Equal(20, TransfersIn(await ReadAllAsync(reopening)));
    }

    [Fact]
    public async Task Relay_RunningAsAHostedService_PublishesEveryCommitAndRecordsItsWatermark()
    {
        await using var log = OpenLog();
        await using var ledger = await StartLedgerAsync();
        using var relay = Relay(ledger, log);
        await relay.StartAsync(default);
        await Workload(ledger, 1_000, 25);
        var committed = ledger.Engine.OutboxCellSequence;

        // Bounded by polls of the relay's own state, not by a timed assert.
        for (var poll = 0; poll < 600 && relay.Watermark < committed; poll++)
        {
            await Task.Delay(50);
        }
        await relay.StopAsync(default);

        Assert.Equal(committed, relay.Watermark);
        Assert.Equal(committed, (await ReadAllAsync(log)).Count);
        await ledger.Engine.ExpireHoldsAsync();
        Assert.Equal(committed, ledger.Engine.OutboxWatermark);
    }

    [Fact]
    public async Task Relay_EventsJustCommitted_PublishedFromMemoryWithoutReadingTheOutboxAndEqualToIt()
    {
        await using var log = OpenLog();
        HookedStore? hooked = null;
        await using var ledger = await StartLedgerAsync(store => hooked = new HookedStore(store));
        var relay = Relay(ledger, log);
        // The relay's first round reads the outbox (nothing is held before a relay asks).
        Assert.Null((await relay.PublishOnceAsync(default)).Failure);
        await Workload(ledger, 1_000, 30);
        var reads = hooked!.OutboxReads;

        await PublishAllAsync(relay, ledger);

        Assert.Equal(reads, hooked.OutboxReads);
        var outbox = await OutboxAsync(ledger);
        var records = (await ReadAllAsync(log)).OrderBy(r => r.CellSequence).ToList();
        Assert.Equal(outbox.Select(e => (e.CellSequence, e.Partition, e.PartitionSequence, e.Kind)),
            records.Select(r => (r.CellSequence, r.Partition, r.Sequence, r.Kind)));
        Assert.All(outbox.Zip(records), pair => Assert.Equal(pair.First.Payload, pair.Second.Payload.ToArray()));
    }

    [Fact]
    public async Task Relay_AfterARestart_ReadsWhatTheOutboxHoldsThenPublishesFromMemory()
    {
        await using var log = OpenLog();
        await using (var ledger = await StartLedgerAsync())
        {
            // Committed, never published: after the restart only the outbox has them.
            await Workload(ledger, 1_000, 20);
        }
        HookedStore? hooked = null;
        await using var restarted = await StartLedgerAsync(store => hooked = new HookedStore(store));
        var relay = Relay(restarted, log);
        await Workload(restarted, 3_000, 10);
        var reads = hooked!.OutboxReads;

        await PublishAllAsync(relay, restarted);

        Assert.True(hooked.OutboxReads > reads);
        var records = await ReadAllAsync(log);
        AssertGapless(records.OrderBy(r => r.CellSequence).Select(r => (r.CellSequence, r.Partition, r.Sequence)));
        Assert.Equal(30, TransfersIn(records));
    }

    [Fact]
    public async Task Relay_Published_WatermarkRecordedAndOutboxPrunedByTheSweepNotByEveryBatch()
    {
        await using var log = OpenLog();
        await using var ledger = await StartLedgerAsync();
        await Workload(ledger, 1_000, 30);
        await PublishAllAsync(Relay(ledger, log), ledger);
        var published = (await OutboxAsync(ledger)).Count;

        // A customer's batch leaves the published events where they are (the relay's rounds no longer cost a prune each)...
        await Workload(ledger, 2_000, 5);
        Assert.True((await OutboxAsync(ledger)).Count > published);

        // ...and the periodic sweep's batch records the watermark and prunes, keeping each partition's newest event.
        await ledger.Engine.ExpireHoldsAsync();
        var left = await OutboxAsync(ledger);
        Assert.All(left.Where(e => e.CellSequence <= ledger.Engine.OutboxWatermark).GroupBy(e => e.Partition), partition => Assert.Single(partition));
    }

    [Fact]
    public async Task Relay_CrashAfterPublishingBeforeTheSweepRecordsTheWatermark_RepublishesAsDuplicatesExactlyOnceInTheLog()
    {
        await using var log = OpenLog();
        await using (var ledger = await StartLedgerAsync())
        {
            await Workload(ledger, 1_000, 30);
            await PublishAllAsync(Relay(ledger, log), ledger);
            // Batches after the relay's round, none of them the sweep: the watermark is not recorded when the engine stops.
            await Workload(ledger, 2_000, 5);
        }
        await using var restarted = await StartLedgerAsync();
        Assert.Equal(0, restarted.Engine.OutboxWatermark);
        var relay = Relay(restarted, log);

        await PublishAllAsync(relay, restarted);

        var records = await ReadAllAsync(log);
        AssertGapless(records.OrderBy(r => r.CellSequence).Select(r => (r.CellSequence, r.Partition, r.Sequence)));
        Assert.Equal(35, TransfersIn(records));
    }

    /// <summary>A log whose last-sequence answers come after <see cref="Delay"/>, and never while <see cref="Hung"/> (a broker that accepts and does not answer).</summary>
    private sealed class GatedLog(IEventLog inner) : IEventLog
    {
        public TimeSpan Delay { get; init; }

        public volatile bool Hung;

        public Task<AppendResult> AppendAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken = default) => inner.AppendAsync(records, cancellationToken);

        public async Task<long> GetLastSequenceAsync(int partition, CancellationToken cancellationToken = default)
        {
            while (Hung)
            {
                await Task.Delay(20, cancellationToken);
            }
            await Task.Delay(Delay, cancellationToken);
            return await inner.GetLastSequenceAsync(partition, cancellationToken);
        }

        public IAsyncEnumerable<EventRecord> ReadAsync(int partition, long fromSequence = 1, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(partition, fromSequence, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A log that answers Unavailable while <see cref="Down"/>, as NATS down would.</summary>
    private sealed class SwitchableLog(IEventLog inner) : IEventLog
    {
        public bool Down { get; set; }

        public Task<AppendResult> AppendAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken = default) =>
            Down ? throw new EventLogException(EventLogError.Unavailable, "The test's log is down.") : inner.AppendAsync(records, cancellationToken);

        public Task<long> GetLastSequenceAsync(int partition, CancellationToken cancellationToken = default) => inner.GetLastSequenceAsync(partition, cancellationToken);

        public IAsyncEnumerable<EventRecord> ReadAsync(int partition, long fromSequence = 1, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(partition, fromSequence, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
