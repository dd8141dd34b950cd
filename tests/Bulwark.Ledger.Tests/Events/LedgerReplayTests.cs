using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.JetStream;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Cells;
using Bulwark.Ledger.Tests.Support;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Events;

/// <summary>Replay into SQLite from the file log.</summary>
public sealed class SqliteFileLogReplayTests : LedgerReplayTests
{
    protected override string? NewPostgres(string name) => null;

    protected override Task<IEventLog> OpenLogAsync(string directory) => Task.FromResult<IEventLog>(FileEventLog.Open(new FileEventLogOptions { Directory = directory }));
}

/// <summary>Replay into a real PostgreSQL from the file log.</summary>
public sealed class PostgresFileLogReplayTests : LedgerReplayTests
{
    protected override string? NewPostgres(string name) => PostgresTestServer.NewDatabase(name);

    protected override Task<IEventLog> OpenLogAsync(string directory) => Task.FromResult<IEventLog>(FileEventLog.Open(new FileEventLogOptions { Directory = directory }));
}

/// <summary>Replay into SQLite from a real nats-server's JetStream stream.</summary>
public sealed class SqliteJetStreamReplayTests : LedgerReplayTests, IDisposable
{
    private readonly NatsTestServer _nats = NatsTestServer.Start();

    protected override string? NewPostgres(string name) => null;

    protected override async Task<IEventLog> OpenLogAsync(string directory) =>
        await JetStreamEventLog.OpenAsync(new JetStreamEventLogOptions { Url = _nats.Url, Bank = "replaytest" });

    public new void Dispose()
    {
        base.Dispose();
        _nats.Dispose();
    }
}

/// <summary>
/// <c>ledger replay</c> and <c>ledger verify</c> underneath (docs/runbooks/ledger-replay.md): a
/// cell rebuilt from the event log alone equals its store row for row, serves the same balances,
/// numbers its next events after the log's and republishes nothing; a replay stopped part-way
/// continues; bad input is refused naming it, with nothing owned.
/// </summary>
public abstract class LedgerReplayTests : IDisposable
{
    private const int Partitions = 16;
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();
    private static readonly ReplayPartition[] CellA = LowerHalf.Select(partition => new ReplayPartition(partition, 1)).ToArray();
    private readonly TempDirectory _directory = new(inMemory: false);
    private readonly TempDirectory _directoryA = new();
    private readonly TempDirectory _directoryB = new();

    protected abstract string? NewPostgres(string name);

    protected abstract Task<IEventLog> OpenLogAsync(string directory);

    public void Dispose()
    {
        _directory.Dispose();
        _directoryA.Dispose();
        _directoryB.Dispose();
        GC.SuppressFinalize(this);
    }

    private sealed record Bank(string? PostgresA, UInt128 Payer, UInt128 Funding);

    /// <summary>Cells a and b with every kind of change (as LedgerEventKindsTests), both relays published; the engines stopped.</summary>
    private async Task<Bank> MakeBankAsync(IEventLog log)
    {
        var postgresA = NewPostgres("replaya");
        await using var a = await TestLedger.StartAsync(directory: _directoryA, partitions: Partitions, postgres: postgresA,
            options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
        await using var b = await TestLedger.StartAsync(directory: _directoryB, partitions: Partitions, postgres: NewPostgres("replayb"),
            options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        var peers = new InProcessCellPeers(Partitions, partition => partition < Partitions / 2 ? a.Engine : b.Engine);
        using var delivery = new CreditLegDelivery(a.Engine, peers, NullLogger<CreditLegDelivery>.Instance);
        var funding = await a.AccountAsync(IdWhere(900_000, partition => partition < Partitions / 2));
        var payer = await a.AccountAsync(IdWhere(1, partition => partition < Partitions / 2 && partition != PartitionOf(funding)));
        var payee = await b.AccountAsync(IdWhere(1, partition => partition >= Partitions / 2));
        await a.TransferOkAsync(1, funding, payer, 10_000);
        await a.TransferOkAsync(2, payer, funding, 100, TransferFlags.Pending);
        await a.TransferOkAsync(3, payer, funding, 200, TransferFlags.Pending);
        await a.TransferOkAsync(4, payer, funding, 300, TransferFlags.Pending, timeoutSeconds: 60);
        Assert.Equal(TransferStatus.Ok, (await a.SubmitAsync(TestLedger.Post(5, 2))).Status);
        Assert.Equal(TransferStatus.Ok, (await a.SubmitAsync(TestLedger.Void(6, 3))).Status);
        a.Time.Advance(TimeSpan.FromSeconds(61));
        await a.Engine.ExpireHoldsAsync();
        await a.Engine.SubmitAsync([TestLedger.Transfer(7, payer, payee, 400)], await peers.FindAccountsAsync([payee], default));
        await delivery.DeliverOnceAsync(default);
        peers.Refuse = _ => TransferStatus.ExceedsCredits;
        await a.Engine.SubmitAsync([TestLedger.Transfer(8, payer, payee, 500)], await peers.FindAccountsAsync([payee], default));
        await delivery.DeliverOnceAsync(default);
        // One left owed: its cell is not asked.
        await a.Engine.SubmitAsync([TestLedger.Transfer(9, payer, payee, 50)], await peers.FindAccountsAsync([payee], default));
        for (var id = 10; id < 40; id++)
        {
            await a.TransferOkAsync(id, funding, payer, id);
        }
        Assert.Null((await Relay(a, log).PublishOnceAsync(default)).Failure);
        Assert.Null((await Relay(b, log).PublishOnceAsync(default)).Failure);
        return new Bank(postgresA, payer, funding);
    }

    private LedgerCellSource SourceA(Bank bank) =>
        bank.PostgresA is null ? LedgerCellSource.Sqlite(_directoryA.File("ledger.db")) : LedgerCellSource.Postgres(bank.PostgresA);

    private static LedgerReplayPlan PlanA => new("a", "", Partitions, CellA);

    private static ILedgerStore Store(string? postgres, string path) => postgres is null ? new SqliteLedgerStore(path) : new PostgresLedgerStore(postgres);

    [Fact]
    public async Task Replay_EveryKindOfChange_TheCellEqualsItsStoreServesItsBalancesAndContinuesTheLog()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        var bank = await MakeBankAsync(log);
        using var replayed = new TempDirectory();
        var postgres = NewPostgres("replayed");
        var progress = new List<LedgerReplayProgress>();

        LedgerReplayResult result;
        using (var store = Store(postgres, replayed.File("ledger.db")))
        {
            result = await new LedgerReplayer(log, store, PlanA, new SynchronousProgress(progress.Add)).RunAsync();
        }

        Assert.Equal(Partitions / 2, result.Partitions);
        Assert.True(result.Events > 0);
        Assert.Equal(result.Events, progress[^1].EventsApplied);
        Assert.Equal(result.Events, progress[^1].EventsTotal);
        var copy = postgres is null ? LedgerCellSource.Sqlite(replayed.File("ledger.db")) : LedgerCellSource.Postgres(postgres);
        var original = await LedgerLogComparison.CompareWithLogAsync(log, SourceA(bank), CellA, Partitions);
        var rebuilt = await LedgerLogComparison.CompareWithLogAsync(log, copy, CellA, Partitions);
        Assert.True(original.Ok, string.Join("\n", original.Differences));
        Assert.True(rebuilt.Ok, string.Join("\n", rebuilt.Differences));
        Assert.True(rebuilt.TransferRows > 30);

        await using var cell = await TestLedger.StartAsync(directory: replayed, partitions: Partitions, postgres: postgres,
            options: new LedgerOptions { CellName = "a" });
        var stored = LedgerCellRows.ReadStore(SourceA(bank), LowerHalf).Partitions[PartitionOf(bank.Payer)].Accounts[bank.Payer];
        var payer = await cell.GetAccountAsync(bank.Payer);
        Assert.Equal(stored, payer);
        Assert.Equal(10_000 + Enumerable.Range(10, 30).Sum() + 500, payer.CreditsPosted);
        var relay = Relay(cell, log);
        Assert.Equal((0, (string?)null), await relay.PublishOnceAsync(default));
        await cell.TransferOkAsync(100, bank.Funding, bank.Payer, 7);
        var published = await relay.PublishOnceAsync(default);
        Assert.Null(published.Failure);
        Assert.True(published.Published >= 1);
        Assert.True((await LedgerLogComparison.CompareWithLogAsync(log, copy, CellA, Partitions)).Ok);
    }

    [Fact]
    public async Task Replay_StoppedPartWay_ContinuesWhereItStoppedAndAppliesNothingTwice()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        await MakeBankAsync(log);
        using var replayed = new TempDirectory();
        var postgres = NewPostgres("resumed");
        var imports = 0;
        using (var hooked = new HookedStore(Store(postgres, replayed.File("ledger.db"))))
        {
            hooked.BeforeImport = (_, _) =>
            {
                if (++imports == 2)
                {
                    throw new IOException("the replay's process was killed");
                }
            };
            await Assert.ThrowsAsync<IOException>(() => new LedgerReplayer(log, hooked, PlanA).RunAsync());
            Assert.DoesNotContain(hooked.LoadCell()!.Ownership, row => row.State != OwnershipState.None);
        }

        LedgerReplayResult result;
        using (var store = Store(postgres, replayed.File("ledger.db")))
        {
            result = await new LedgerReplayer(log, store, PlanA).RunAsync();
        }

        Assert.True(result.EventsResumed > 0);
        var copy = postgres is null ? LedgerCellSource.Sqlite(replayed.File("ledger.db")) : LedgerCellSource.Postgres(postgres);
        var compared = await LedgerLogComparison.CompareWithLogAsync(log, copy, CellA, Partitions);
        Assert.True(compared.Ok, string.Join("\n", compared.Differences));
    }

    [Fact]
    public async Task Replay_IntoAStoreThatHoldsData_IsRefusedAndChangesNothing()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        var bank = await MakeBankAsync(log);
        using var store = Store(bank.PostgresA, _directoryA.File("ledger.db"));

        var refused = await Assert.ThrowsAsync<LedgerReplayException>(() => new LedgerReplayer(log, store, PlanA).RunAsync());

        Assert.Contains("empty store", refused.Message, StringComparison.Ordinal);
        Assert.True((await LedgerLogComparison.CompareWithLogAsync(log, SourceA(bank), CellA, Partitions)).Ok);
    }

    [Fact]
    public async Task Replay_AnUnknownFormatVersion_StopsAtThatRecordNamingIt_NothingOwned()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        await MakeBankAsync(log);
        var partition = LowerHalf.First(p => log.GetLastSequenceAsync(p).Result > 0);
        var last = await log.GetLastSequenceAsync(partition);
        var future = new PartitionChange { FormatVersion = 2, Partition = (uint)partition };
        await log.AppendAsync([new EventRecord(partition, last + 1, "a", 10_000, (int)LedgerEventKind.PartitionChange, future.ToByteArray())]);
        using var replayed = new TempDirectory();
        var postgres = NewPostgres("future");
        using var store = Store(postgres, replayed.File("ledger.db"));

        var refused = await Assert.ThrowsAsync<LedgerReplayException>(() => new LedgerReplayer(log, store, PlanA).RunAsync());

        Assert.Contains($"partition {partition} sequence {last + 1}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("format version 2", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(store.LoadCell()!.Ownership, row => row.State != OwnershipState.None);
    }

    [Fact]
    public async Task Replay_ARecordOfAnotherCellWithoutAMove_IsRefusedNamingIt()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        await MakeBankAsync(log);
        var partition = LowerHalf.First(p => log.GetLastSequenceAsync(p).Result > 0);
        var last = await log.GetLastSequenceAsync(partition);
        var change = new PartitionChange { FormatVersion = LedgerEventFormat.Version, Partition = (uint)partition };
        await log.AppendAsync([new EventRecord(partition, last + 1, "b", 10_000, (int)LedgerEventKind.PartitionChange, change.ToByteArray())]);
        using var replayed = new TempDirectory();
        using var store = Store(NewPostgres("foreign"), replayed.File("ledger.db"));

        var refused = await Assert.ThrowsAsync<LedgerReplayException>(() => new LedgerReplayer(log, store, PlanA).RunAsync());

        Assert.Contains($"partition {partition} sequence {last + 1} (cell 'b'", refused.Message, StringComparison.Ordinal);
        Assert.Contains("map gives the partition to cell 'a'", refused.Message, StringComparison.Ordinal);
        Assert.Null(store.LoadCell());
    }

    [Fact]
    public async Task Replay_AChangeOfAnotherPartitionInAPartitionsHistory_IsRefusedNamingIt()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        await MakeBankAsync(log);
        var partition = LowerHalf.First(p => log.GetLastSequenceAsync(p).Result > 0);
        var last = await log.GetLastSequenceAsync(partition);
        var elsewhere = new PartitionChange { FormatVersion = LedgerEventFormat.Version, Partition = (uint)(partition + 1) };
        await log.AppendAsync([new EventRecord(partition, last + 1, "a", 10_000, (int)LedgerEventKind.PartitionChange, elsewhere.ToByteArray())]);
        using var replayed = new TempDirectory();
        using var store = Store(NewPostgres("elsewhere"), replayed.File("ledger.db"));

        var refused = await Assert.ThrowsAsync<LedgerReplayException>(() => new LedgerReplayer(log, store, PlanA).RunAsync());

        Assert.Contains($"partition {partition} sequence {last + 1}", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"carries a change of partition {partition + 1}: it does not belong here", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(store.LoadCell()!.Ownership, row => row.State != OwnershipState.None);
    }

    [Fact]
    public async Task Replay_ATransferRowWrittenTwiceInTheLog_IsRefusedNamingThePartition_AndVerifyReportsItRepeated()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        var bank = await MakeBankAsync(log);
        var partition = PartitionOf(bank.Payer);
        var first = await FirstChangeWithTransfersAsync(log, partition);
        var last = await log.GetLastSequenceAsync(partition);
        var repeat = new PartitionChange { FormatVersion = LedgerEventFormat.Version, Partition = (uint)partition };
        repeat.TransfersWritten.Add(first.TransfersWritten[0]);
        await log.AppendAsync([new EventRecord(partition, last + 1, "a", 10_000, (int)LedgerEventKind.PartitionChange, repeat.ToByteArray())]);
        using var replayed = new TempDirectory();
        using var store = Store(NewPostgres("repeated"), replayed.File("ledger.db"));

        var refused = await Assert.ThrowsAsync<LedgerReplayException>(() => new LedgerReplayer(log, store, PlanA).RunAsync());

        Assert.Contains($"applying partition {partition}'s events", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(store.LoadCell()!.Ownership, row => row.State != OwnershipState.None);
        var report = await LedgerLogComparison.CompareWithLogAsync(log, SourceA(bank), CellA, Partitions);
        Assert.Contains(report.Differences, d => d.Kind == LedgerDifferenceKind.Repeated && d.Partition == partition);
    }

    private static async Task<PartitionChange> FirstChangeWithTransfersAsync(IEventLog log, int partition)
    {
        await foreach (var record in log.ReadAsync(partition))
        {
            var change = PartitionChange.Parser.ParseFrom(record.Payload.Span);
            if (change.TransfersWritten.Count > 0)
            {
                return change;
            }
        }
        throw new InvalidOperationException($"partition {partition} has no transfer");
    }

    [Fact]
    public async Task Verify_AStoreThatLostATransferAndChangedABalance_ReportsBoth()
    {
        await using var log = await OpenLogAsync(Path.Combine(_directory.Path, "events"));
        var bank = await MakeBankAsync(log);
        var expected = await LedgerCellRows.ReadLogAsync(log, LowerHalf, Partitions);
        var actual = LedgerCellRows.ReadStore(SourceA(bank), LowerHalf);
        var payerPartition = PartitionOf(bank.Payer);
        var rows = actual.Partitions[payerPartition];
        var lost = rows.Transfers.Keys.First(key => key.Id == 12);
        rows.Transfers.Remove(lost);
        rows.Accounts[bank.Payer] = rows.Accounts[bank.Payer] with { CreditsPosted = 1 };

        var report = LedgerLogComparison.Compare(expected, actual, CellA);

        Assert.False(report.Ok);
        Assert.Equal(2, report.DifferenceCount);
        Assert.Contains(report.Differences, d => d.Kind == LedgerDifferenceKind.Missing && d.Partition == payerPartition && d.Row.Contains("0000000c", StringComparison.Ordinal));
        Assert.Contains(report.Differences, d => d.Kind == LedgerDifferenceKind.Differs && d.Row == $"account {bank.Payer:x32}");
        Assert.Equal(2, report.Partitions.Single(p => p.Partition == payerPartition).Differences);
    }

    private static LedgerEventRelay Relay(TestLedger ledger, IEventLog log) =>
        new(ledger.Engine, log, ledger.Time, NullLogger<LedgerEventRelay>.Instance, new LedgerEventRelayMetrics());

    private static int PartitionOf(UInt128 id) => LedgerPartitioner.PartitionOf(id, Partitions);

    private static int IdWhere(int from, Func<int, bool> partition)
    {
        var id = from;
        while (!partition(LedgerPartitioner.PartitionOf((UInt128)id, Partitions)))
        {
            id++;
        }
        return id;
    }

    private sealed class SynchronousProgress(Action<LedgerReplayProgress> report) : IProgress<LedgerReplayProgress>
    {
        public void Report(LedgerReplayProgress value) => report(value);
    }
}
