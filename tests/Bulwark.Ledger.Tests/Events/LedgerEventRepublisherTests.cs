using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.JetStream;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Events;

/// <summary>Republishing from a SQLite store's outbox into the file log.</summary>
public sealed class SqliteFileLogRepublisherTests : LedgerEventRepublisherTests
{
    protected override string? NewPostgres() => null;

    protected override Task<IEventLog> OpenLogAsync(string name) =>
        Task.FromResult<IEventLog>(FileEventLog.Open(new FileEventLogOptions { Directory = Directory.File(name) }));
}

/// <summary>Republishing from a real PostgreSQL store's outbox into the file log.</summary>
public sealed class PostgresFileLogRepublisherTests : LedgerEventRepublisherTests
{
    protected override string? NewPostgres() => PostgresTestServer.NewDatabase("republish");

    protected override Task<IEventLog> OpenLogAsync(string name) =>
        Task.FromResult<IEventLog>(FileEventLog.Open(new FileEventLogOptions { Directory = Directory.File(name) }));
}

/// <summary>Republishing from a SQLite store's outbox into a real nats-server's JetStream (a stream per log).</summary>
public sealed class SqliteJetStreamRepublisherTests : LedgerEventRepublisherTests, IDisposable
{
    private readonly NatsTestServer _nats = NatsTestServer.Start();

    protected override string? NewPostgres() => null;

    protected override async Task<IEventLog> OpenLogAsync(string name) =>
        await JetStreamEventLog.OpenAsync(new JetStreamEventLogOptions { Url = _nats.Url, Bank = name });

    public new void Dispose()
    {
        base.Dispose();
        _nats.Dispose();
    }
}

/// <summary>
/// reconcile --repair's republish underneath (docs/runbooks/reconcile.md): a log that lost the
/// newest events of partitions the relay recorded as published gets them back from the store's
/// outbox byte for byte; republishing an event the log holds is a no-op, never a second copy; a
/// loss deeper than the outbox keeps (pruned) is reported with nothing written.
/// </summary>
public abstract class LedgerEventRepublisherTests : IDisposable
{
    private const int Partitions = 8;
    private readonly string? _postgres;

    protected LedgerEventRepublisherTests()
    {
        _postgres = NewPostgres();
    }

    protected TempDirectory Directory { get; } = new(inMemory: false);

    protected abstract string? NewPostgres();

    /// <summary>A log of its own for <paramref name="name"/> (letters only).</summary>
    protected abstract Task<IEventLog> OpenLogAsync(string name);

    public void Dispose()
    {
        Directory.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Republish_LogLostPartitionsNewestEvents_OutboxPutsBackWhatItHolds_AndARepeatIsANoOp()
    {
        await using var ledger = await TestLedger.StartAsync(directory: Directory, partitions: Partitions, postgres: _postgres);
        await using var full = await OpenLogAsync("full");
        await Workload(ledger, 1_000);
        await Workload(ledger, 2_000);
        Assert.Null((await Relay(ledger, full).PublishOnceAsync(default)).Failure);
        // The next batch records the watermark and prunes the outbox to each partition's newest event.
        await ledger.Engine.ExpireHoldsAsync();
        var history = await ReadAsync(full);
        var deep = history.Where(pair => pair.Value.Count >= 3).Select(pair => pair.Key).ToArray();
        Assert.True(deep.Length >= 2, "the workload gives at least two partitions three events");
        var (shallowLoss, deepLoss) = (deep[0], deep[1]);

        // The damaged log: every partition's history but the newest event of one and the newest two of another.
        await using var damaged = await OpenLogAsync("damaged");
        foreach (var (partition, records) in history)
        {
            var keep = records.Count - (partition == shallowLoss ? 1 : partition == deepLoss ? 2 : 0);
            await damaged.AppendAsync(records.Take(keep).ToArray());
        }
        var store = _postgres is null ? LedgerCellSource.Sqlite(ledger.DatabasePath) : LedgerCellSource.Postgres(_postgres);

        var missing = await LedgerEventRepublisher.FindMissingAsync(damaged, store, Enumerable.Range(0, Partitions).ToArray());

        Assert.Equal(new[] { shallowLoss, deepLoss }.Order(), missing.Select(entry => entry.Partition));
        var shallow = missing.Single(entry => entry.Partition == shallowLoss);
        Assert.True(shallow.RecordedAsPublished);
        Assert.True(shallow.Republishable);
        Assert.Equal(history[shallowLoss].Count - 1, shallow.LogLast);
        Assert.Equal(history[shallowLoss].Count, shallow.StoreLast);
        var pruned = missing.Single(entry => entry.Partition == deepLoss);
        Assert.True(pruned.RecordedAsPublished);
        Assert.False(pruned.Republishable);
        Assert.Equal(history[deepLoss].Count, pruned.OutboxFirst);
        await Assert.ThrowsAsync<InvalidOperationException>(() => LedgerEventRepublisher.RepublishAsync(damaged, "a", pruned));

        var result = await LedgerEventRepublisher.RepublishAsync(damaged, "a", shallow);

        Assert.Equal(new RepublishResult(1, 0), result);
        var repaired = await ReadAsync(damaged);
        Assert.Equal(history[shallowLoss].Count, repaired[shallowLoss].Count);
        Assert.All(history[shallowLoss].Zip(repaired[shallowLoss]), pair => Assert.True(pair.First.HasSameBody(pair.Second)));
        // Republishing an event that is in fact present (a second --repair, or one racing the relay) adds nothing.
        Assert.Equal(new RepublishResult(0, 1), await LedgerEventRepublisher.RepublishAsync(damaged, "a", shallow));
        Assert.Equal(history[shallowLoss].Count, (await ReadAsync(damaged))[shallowLoss].Count);
        Assert.Equal([deepLoss], (await LedgerEventRepublisher.FindMissingAsync(damaged, store, Enumerable.Range(0, Partitions).ToArray())).Select(entry => entry.Partition));
        Assert.Equal(history[deepLoss].Count - 2, await damaged.GetLastSequenceAsync(deepLoss));
    }

    [Fact]
    public async Task Relay_AtStart_PutsBackTheLostNewestEventsItPublished_AndLeavesADeeperLossToAPerson()
    {
        await using var ledger = await TestLedger.StartAsync(directory: Directory, partitions: Partitions, postgres: _postgres);
        await using var full = await OpenLogAsync("full");
        await Workload(ledger, 1_000);
        await Workload(ledger, 2_000);
        Assert.Null((await Relay(ledger, full).PublishOnceAsync(default)).Failure);
        await ledger.Engine.ExpireHoldsAsync();
        var history = await ReadAsync(full);
        var deep = history.Where(pair => pair.Value.Count >= 3).Select(pair => pair.Key).ToArray();
        var (shallowLoss, deepLoss) = (deep[0], deep[1]);
        await using var damaged = await OpenLogAsync("damaged");
        foreach (var (partition, records) in history)
        {
            await damaged.AppendAsync(records.Take(records.Count - (partition == shallowLoss ? 1 : partition == deepLoss ? 2 : 0)).ToArray());
        }
        // A relay started on the damaged log: publishing above its watermark alone, it would never send them again.
        var relay = Relay(ledger, damaged);

        var (appended, completed) = await relay.RepublishLostAsync(default);

        Assert.True(completed);
        Assert.Equal(1, appended);
        var repaired = await ReadAsync(damaged);
        Assert.All(history[shallowLoss].Zip(repaired[shallowLoss]), pair => Assert.True(pair.First.HasSameBody(pair.Second)));
        Assert.Equal(history[shallowLoss].Count, repaired[shallowLoss].Count);
        Assert.Equal(history[deepLoss].Count - 2, repaired[deepLoss].Count);
        // Started again: nothing more to put back, nothing written twice.
        Assert.Equal((0, true), await Relay(ledger, damaged).RepublishLostAsync(default));
        Assert.Equal(history[shallowLoss].Count, (await ReadAsync(damaged))[shallowLoss].Count);
    }

    [Fact]
    public async Task Relay_AtStart_PutsBackTheLostNewestEvent_BehindMoreThanOnePageOfUnprunedOutbox()
    {
        await using var ledger = await TestLedger.StartAsync(directory: Directory, partitions: Partitions, postgres: _postgres);
        await using var full = await OpenLogAsync("full");
        var funding = await ledger.AccountAsync(5_000);
        var payee = await ledger.AccountAsync(5_001);
        // An event is one batch's changes to one partition: a transfer a batch, one after another,
        // makes more than one page of events.
        for (var i = 0; i < LedgerLimits.RelayBatchEventsMax + 50; i++)
        {
            await ledger.TransferOkAsync(6_000 + i, funding, payee, 1);
        }
        var relay = Relay(ledger, full);
        for (var round = 0; round < 100 && (await relay.PublishOnceAsync(default)).Published > 0; round++)
        {
        }
        // The premise: more than one page of published events still in the outbox (the sweep has not pruned them).
        var outbox = await ledger.Engine.ReadOutboxAsync(0, 2 * LedgerLimits.RelayBatchEventsMax);
        Assert.True(outbox.Count > LedgerLimits.RelayBatchEventsMax, $"{outbox.Count} events in the outbox");
        var newest = outbox[^1];
        var history = await ReadAsync(full);
        await using var damaged = await OpenLogAsync("damaged");
        foreach (var (partition, records) in history)
        {
            await damaged.AppendAsync(records.Take(records.Count - (partition == newest.Partition ? 1 : 0)).ToArray());
        }

        var (appended, completed) = await Relay(ledger, damaged).RepublishLostAsync(default);

        Assert.True(completed);
        Assert.Equal(1, appended);
        var repaired = await ReadAsync(damaged);
        Assert.Equal(history[newest.Partition].Count, repaired[newest.Partition].Count);
        Assert.True(history[newest.Partition][^1].HasSameBody(repaired[newest.Partition][^1]));
    }

    private static LedgerEventRelay Relay(TestLedger ledger, IEventLog log) =>
        new(ledger.Engine, log, ledger.Time, NullLogger<LedgerEventRelay>.Instance, new LedgerEventRelayMetrics());

    [Fact]
    public async Task FindMissing_EventsTheRelayHasNotSent_AreNotRecordedAsPublished()
    {
        await using var ledger = await TestLedger.StartAsync(directory: Directory, partitions: Partitions, postgres: _postgres);
        await using var log = await OpenLogAsync("empty");
        await Workload(ledger, 1_000);
        var store = _postgres is null ? LedgerCellSource.Sqlite(ledger.DatabasePath) : LedgerCellSource.Postgres(_postgres);

        var missing = await LedgerEventRepublisher.FindMissingAsync(log, store, Enumerable.Range(0, Partitions).ToArray());

        Assert.NotEmpty(missing);
        Assert.All(missing, entry =>
        {
            Assert.False(entry.RecordedAsPublished);
            Assert.True(entry.Republishable);
            Assert.Equal(0, entry.LogLast);
        });
    }

    private static async Task Workload(TestLedger ledger, int from)
    {
        var funding = await ledger.AccountAsync(from);
        var accounts = new List<UInt128>();
        for (var i = 1; i <= 6; i++)
        {
            accounts.Add(await ledger.AccountAsync(from + i));
        }
        var results = await ledger.Engine.SubmitAsync(Enumerable.Range(0, 24).Select(i => TestLedger.Transfer(from + 100 + i, funding, accounts[i % accounts.Count], 10 + i)).ToArray());
        Assert.All(results, result => Assert.Equal(Protos.TransferStatus.Ok, result.Status));
    }

    private static async Task<Dictionary<int, List<EventRecord>>> ReadAsync(IEventLog log)
    {
        var records = new Dictionary<int, List<EventRecord>>();
        await foreach (var record in log.ReadPartitionsAsync(Enumerable.Range(0, Partitions)))
        {
            (records.TryGetValue(record.Partition, out var list) ? list : records[record.Partition] = []).Add(record);
        }
        return records;
    }
}
