using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Tests.Cells;

/// <summary>
/// Transfers between partitions (two legs through transit accounts), ownership and refusals, and
/// credit legs delivered between two cells (docs/internals/cells.md), on real SQLite stores.
/// </summary>
public sealed class CellTests
{
    private const int Partitions = LedgerLimits.PartitionCountDefault;

    /// <summary>Cell "a" owns the lower half of the partitions, "b" the upper half.</summary>
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();

    private static int PartitionOf(UInt128 id) => LedgerPartitioner.PartitionOf(id, Partitions);

    /// <summary>The first account id from <paramref name="from"/> whose partition satisfies <paramref name="where"/>.</summary>
    private static int IdWhere(int from, Func<int, bool> where)
    {
        var id = from;
        while (!where(PartitionOf((UInt128)id)))
        {
            id++;
        }
        return id;
    }

    [Fact]
    public async Task Transfer_BetweenPartitionsOfOneCell_BothLegsCommitTogetherThroughTransit()
    {
        await using var ledger = await TestLedger.StartAsync(partitions: Partitions);
        var a = await ledger.AccountAsync(1);
        var b = await ledger.AccountAsync(IdWhere(2, partition => partition != PartitionOf(a)));
        await ledger.TransferOkAsync(100, b, a, 500);

        var debitLeg = await ledger.TransferOkAsync(101, a, b, 120);

        Assert.Equal(TransferLeg.Debit, debitLeg.Leg);
        Assert.Equal((120L, 500L), ((await ledger.GetAccountAsync(a)).DebitsPosted, (await ledger.GetAccountAsync(a)).CreditsPosted));
        Assert.Equal((500L, 120L), ((await ledger.GetAccountAsync(b)).DebitsPosted, (await ledger.GetAccountAsync(b)).CreditsPosted));
        var transitA = await ledger.GetAccountAsync(TransitAccounts.IdOf(PartitionOf(a), TestLedger.Currency, Partitions));
        var transitB = await ledger.GetAccountAsync(TransitAccounts.IdOf(PartitionOf(b), TestLedger.Currency, Partitions));
        // Each transit account took one side of each transfer; together they net to zero.
        Assert.Equal(transitA.CreditsPosted - transitA.DebitsPosted, -(transitB.CreditsPosted - transitB.DebitsPosted));
        Assert.Equal(TransitAccounts.Code, transitA.Code);
        // A lookup by id finds the debit leg; each account's history shows its own leg once.
        Assert.Equal(TransferLeg.Debit, (await ledger.GetTransferAsync((UInt128)101)).Leg);
        var historyOfB = (await ledger.Engine.ListAccountTransfersAsync(b, "", 0, 0))!.Transfers;
        Assert.Equal([(TransferLeg.Credit, (UInt128)101), (TransferLeg.Debit, (UInt128)100)], historyOfB.Select(row => (row.Leg, row.Id)));
        Assert.All(historyOfB, row => Assert.Equal((a, b), row.Leg == TransferLeg.Credit ? (row.DebitAccountId, row.CreditAccountId) : (row.CreditAccountId, row.DebitAccountId)));
        var historyOfA = (await ledger.Engine.ListAccountTransfersAsync(a, "", 0, 0))!.Transfers;
        Assert.Equal([(TransferLeg.Debit, (UInt128)101), (TransferLeg.Credit, (UInt128)100)], historyOfA.Select(row => (row.Leg, row.Id)));
        // A retry is the same transfer, and writes nothing.
        Assert.True((await ledger.SubmitAsync(TestLedger.Transfer(101, a, b, 120))).Duplicate);
        Assert.Equal(2, ledger.Engine.Statistics.TransfersCommitted);
        var report = ledger.Check();
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
        Assert.Equal((2L, 2L, 0), (report.AccountCount, report.TransferCount, report.CreditLegsInFlight));
    }

    [Fact]
    public async Task Hold_BetweenPartitions_HoldsOnlyTheDebitSideAndCreditsOnlyWhatIsPosted()
    {
        await using var ledger = await TestLedger.StartAsync(partitions: Partitions);
        var customer = await ledger.AccountAsync(1, AccountFlags.DebitsMustNotExceedCredits, overdraft: 1_000);
        var merchant = await ledger.AccountAsync(IdWhere(2, partition => partition != PartitionOf(customer)));
        var transit = TransitAccounts.IdOf(PartitionOf(customer), TestLedger.Currency, Partitions);

        await ledger.TransferOkAsync(10, customer, merchant, 300, TransferFlags.Pending);
        await ledger.TransferOkAsync(11, customer, merchant, 200, TransferFlags.Pending, timeoutSeconds: 5);
        await ledger.TransferOkAsync(12, customer, merchant, 100, TransferFlags.Pending);
        Assert.Equal(600L, (await ledger.GetAccountAsync(customer)).DebitsPending);
        Assert.Equal(600L, (await ledger.GetAccountAsync(transit)).CreditsPending);
        Assert.Equal(0L, (await ledger.GetAccountAsync(merchant)).CreditsPending);

        Assert.Equal(TransferStatus.Ok, (await ledger.SubmitAsync(TestLedger.Post(20, 10, 250))).Status);
        Assert.Equal(TransferStatus.Ok, (await ledger.SubmitAsync(TestLedger.Void(21, 12))).Status);
        ledger.Time.Advance(TimeSpan.FromSeconds(6));
        await ledger.Engine.ExpireHoldsAsync();

        var customerNow = await ledger.GetAccountAsync(customer);
        Assert.Equal((0L, 250L), (customerNow.DebitsPending, customerNow.DebitsPosted));
        Assert.Equal(250L, (await ledger.GetAccountAsync(merchant)).CreditsPosted);
        var transitNow = await ledger.GetAccountAsync(transit);
        Assert.Equal((0L, 250L), (transitNow.CreditsPending, transitNow.CreditsPosted));
        // Only the post moved money to the merchant's partition: one credit leg, with the post's id.
        var merchantRows = (await ledger.Engine.ListAccountTransfersAsync(merchant, "", 0, 0))!.Transfers;
        Assert.Equal([(TransferLeg.Credit, (UInt128)20, 250L)], merchantRows.Select(row => (row.Leg, row.Id, row.Amount)));
        var report = ledger.Check();
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
    }

    [Fact]
    public async Task Transfer_BetweenCells_DebitLegOwesCreditLegUntilDeliveredOnce()
    {
        await using var cells = await TwoCells.StartAsync();
        var a = await cells.A.AccountAsync(IdWhere(1, partition => partition < Partitions / 2));
        var b = await cells.B.AccountAsync(IdWhere(1, partition => partition >= Partitions / 2));
        await cells.A.TransferOkAsync(1, cells.FundingA, a, 1_000);

        var results = await cells.A.Engine.SubmitAsync([TestLedger.Transfer(2, a, b, 300)], await cells.Peers.FindAccountsAsync([b], default));
        Assert.Equal((TransferStatus.Ok, TransferLeg.Debit), (results[0].Status, results[0].Transfer!.Leg));
        Assert.Equal(0L, (await cells.B.GetAccountAsync(b)).CreditsPosted);
        var inFlight = cells.Check();
        Assert.True(inFlight.Ok, string.Join(Environment.NewLine, inFlight.Problems));
        Assert.Equal(1, inFlight.CreditLegsInFlight);
        Assert.Equal([((UInt128)2).ToString("x32", System.Globalization.CultureInfo.InvariantCulture)], inFlight.CreditLegsInFlightIds);

        Assert.Equal(1, await cells.DeliveryOfA.DeliverOnceAsync(default));
        Assert.Equal(0, await cells.DeliveryOfA.DeliverOnceAsync(default));

        Assert.Equal(300L, (await cells.B.GetAccountAsync(b)).CreditsPosted);
        Assert.Equal(700L, (await cells.A.GetAccountAsync(a)).CreditsPosted - (await cells.A.GetAccountAsync(a)).DebitsPosted);
        var settled = cells.Check();
        Assert.True(settled.Ok, string.Join(Environment.NewLine, settled.Problems));
        Assert.Equal(0, settled.CreditLegsInFlight);
        Assert.Empty(settled.CreditLegsInFlightIds);
        // A redelivery (a crash after delivering, before settling) is answered duplicate and writes nothing.
        var again = await cells.B.Engine.ApplyCreditLegsAsync([(await cells.B.Engine.ListAccountTransfersAsync(b, "", 0, 0))!.Transfers[0]]);
        Assert.True(again[0].Duplicate);
        Assert.Equal(300L, (await cells.B.GetAccountAsync(b)).CreditsPosted);
    }

    [Fact]
    public async Task Transfer_BetweenCells_CreditAccountMissingAtItsOwner_NotFoundAndNothingWritten()
    {
        await using var cells = await TwoCells.StartAsync();
        var a = await cells.A.AccountAsync(IdWhere(1, partition => partition < Partitions / 2));
        var nobody = (UInt128)IdWhere(1, partition => partition >= Partitions / 2);
        await cells.A.TransferOkAsync(1, cells.FundingA, a, 1_000);

        var results = await cells.A.Engine.SubmitAsync([TestLedger.Transfer(2, a, nobody, 300)], await cells.Peers.FindAccountsAsync([nobody], default));

        Assert.Equal(TransferStatus.CreditAccountNotFound, results[0].Status);
        Assert.Equal(0, await cells.DeliveryOfA.DeliverOnceAsync(default));
        Assert.Equal(1_000L, (await cells.A.GetAccountAsync(a)).CreditsPosted - (await cells.A.GetAccountAsync(a)).DebitsPosted);
    }

    [Fact]
    public async Task CreditLeg_RefusedForGoodByItsCell_MoneyReturnedToTheDebitAccount()
    {
        await using var cells = await TwoCells.StartAsync();
        var (a, b) = await cells.OweACreditLegAsync();
        cells.Peers.Refuse = _ => TransferStatus.CurrencyMismatch;

        Assert.Equal(1, await cells.DeliveryOfA.DeliverOnceAsync(default));

        var account = await cells.A.GetAccountAsync(a);
        Assert.Equal(1_000L, account.CreditsPosted - account.DebitsPosted);
        Assert.Equal(0L, (await cells.B.GetAccountAsync(b)).CreditsPosted);
        var history = (await cells.A.Engine.ListAccountTransfersAsync(a, "", 0, 0))!.Transfers;
        Assert.Equal(TransferLeg.Return, history[0].Leg);
        var report = cells.Check();
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
        Assert.Equal(0, report.CreditLegsInFlight);
    }

    [Fact]
    public async Task CreditLeg_ItsAccountAnsweredNotFoundAtDelivery_ReturnedOnlyOnceTheAnswerHeldForTheWholeWindow()
    {
        await using var cells = await TwoCells.StartAsync();
        var (a, b) = await cells.OweACreditLegAsync();
        // The account was found when the transfer was taken; its cell now says "not found" (a store
        // restored or made again would): believed only once it has said so for the whole window.
        cells.Peers.Refuse = _ => TransferStatus.CreditAccountNotFound;
        var window = TimeSpan.FromMilliseconds(LedgerLimits.CreditLegNotFoundConfirmMilliseconds);

        Assert.Equal(0, await cells.DeliveryOfA.DeliverOnceAsync(default));
        cells.A.Time.Advance(window - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await cells.DeliveryOfA.DeliverOnceAsync(default));
        Assert.Equal(700L, (await cells.A.GetAccountAsync(a)).CreditsPosted - (await cells.A.GetAccountAsync(a)).DebitsPosted);
        Assert.Equal(1, cells.Check().CreditLegsInFlight);

        // The cell answers again in between (it was the wrong store, put right): the doubt starts over.
        cells.Peers.Refuse = _ => TransferStatus.WrongOwner;
        Assert.Equal(0, await cells.DeliveryOfA.DeliverOnceAsync(default));
        cells.Peers.Refuse = _ => TransferStatus.CreditAccountNotFound;
        cells.A.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, await cells.DeliveryOfA.DeliverOnceAsync(default));
        cells.A.Time.Advance(window);
        Assert.Equal(1, await cells.DeliveryOfA.DeliverOnceAsync(default));

        var account = await cells.A.GetAccountAsync(a);
        Assert.Equal(1_000L, account.CreditsPosted - account.DebitsPosted);
        Assert.Equal(TransferLeg.Return, (await cells.A.Engine.ListAccountTransfersAsync(a, "", 0, 0))!.Transfers[0].Leg);
        var report = cells.Check();
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));
        Assert.Equal(0, report.CreditLegsInFlight);
    }

    [Fact]
    public async Task Cell_AskedAboutAPartitionItDoesNotOwn_RefusesNeverSaysNotFound()
    {
        await using var cells = await TwoCells.StartAsync();
        var b = await cells.B.AccountAsync(IdWhere(1, partition => partition >= Partitions / 2));
        var partition = PartitionOf(b);

        var created = Assert.Single(await cells.A.Engine.CreateAccountsAsync([new LedgerAccount { Id = b, Currency = TestLedger.Currency, Code = 1 }]));
        Assert.Equal(CreateAccountStatus.WrongOwner, created.Status);
        Assert.Equal((partition, RefusalReason.NotOwner), (created.Refusal!.Value.Partition, created.Refusal.Value.Reason));
        var submitted = Assert.Single(await cells.A.Engine.SubmitAsync([TestLedger.Transfer(5, b, cells.FundingA, 1)]));
        Assert.Equal(TransferStatus.WrongOwner, submitted.Status);
        var listing = await Assert.ThrowsAsync<LedgerWrongOwnerException>(() => cells.A.Engine.ListAccountTransfersAsync(b, "", 0, 0));
        Assert.Equal(partition, listing.Refusal.Partition);
        Assert.Empty(await cells.A.Engine.GetAccountsAsync([b]));
        Assert.False(cells.A.Engine.Ownership.Serves(partition));
        Assert.True(cells.B.Engine.Ownership.Serves(partition));
    }

    [Fact]
    public async Task CreateAccount_TransitTaggedId_ReservedButOtherIdsWithTheSameTopByteAreNot()
    {
        await using var ledger = await TestLedger.StartAsync(partitions: Partitions);
        var transit = TransitAccounts.IdOf(3, TestLedger.Currency, Partitions);
        var sameTopByte = (UInt128.MaxValue >> 8) | ((UInt128)0xFF << 120);

        var results = await ledger.Engine.CreateAccountsAsync(
        [
            new LedgerAccount { Id = transit, Currency = TestLedger.Currency, Code = 1 },
            new LedgerAccount { Id = sameTopByte, Currency = TestLedger.Currency, Code = 1 },
        ]);

        Assert.Equal([CreateAccountStatus.IdReserved, CreateAccountStatus.Ok], results.Select(result => result.Status));
    }

    [Fact]
    public async Task Start_OnAnotherCellsStore_RefusedNamingTheCell()
    {
        using var directory = new TempDirectory(inMemory: false);
        await (await TestLedger.StartAsync(directory: directory, partitions: Partitions, options: new LedgerOptions { CellName = "a" })).DisposeAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            TestLedger.StartAsync(directory: directory, partitions: Partitions, options: new LedgerOptions { CellName = "b" }));

        Assert.Contains("belongs to cell 'a'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_OnAStoreOfAnotherBank_RefusedNamingBoth()
    {
        using var directory = new TempDirectory(inMemory: false);
        await (await TestLedger.StartAsync(directory: directory, partitions: Partitions, options: new LedgerOptions { CellName = "a", ClusterId = "bank-1" })).DisposeAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            TestLedger.StartAsync(directory: directory, partitions: Partitions, options: new LedgerOptions { CellName = "a", ClusterId = "bank-2" }));

        Assert.Contains("belongs to cluster bank-1, but the placement map is cluster bank-2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_APartitionWithATransferFromBeforeCellsToAnotherPartition_RefusedNamingIt_OtherPartitionsExport()
    {
        using var directory = new TempDirectory(inMemory: false);
        var debitId = IdWhere(1, _ => true);
        var debit = (UInt128)debitId;
        var credit = (UInt128)IdWhere(debitId + 1, partition => partition != PartitionOf(debit));
        var elsewhere = Enumerable.Range(0, Partitions).First(partition => partition != PartitionOf(debit) && partition != PartitionOf(credit));
        using (var store = new SqliteLedgerStore(directory.File("ledger.db")))
        {
            // A ledger from before cells: a transfer between two partitions written as one WHOLE row.
            store.Open(Partitions);
            var commit = new LedgerCommit();
            commit.NewAccounts.Add(new(PartitionOf(debit), new LedgerAccount { Id = debit, Currency = TestLedger.Currency, Code = 1, DebitsPosted = 70 }));
            commit.NewAccounts.Add(new(PartitionOf(credit), new LedgerAccount { Id = credit, Currency = TestLedger.Currency, Code = 1, CreditsPosted = 70 }));
            commit.NewTransfers.Add(new(PartitionOf(debit), new LedgerTransfer
            {
                Id = 0xabc,
                Sequence = 1,
                DebitAccountId = debit,
                CreditAccountId = credit,
                Amount = 70,
                Currency = TestLedger.Currency,
                Code = 1,
                TimestampUnixMs = 1_000,
                State = TransferState.Posted,
            }));
            store.Commit(commit);
        }
        await using var ledger = await TestLedger.StartAsync(directory: directory, partitions: Partitions, options: new LedgerOptions { CellName = "a" });

        foreach (var side in new[] { PartitionOf(debit), PartitionOf(credit) })
        {
            var error = await Assert.ThrowsAsync<LedgerMoveRefusedException>(() => ledger.Engine.ExportPartitionAsync(side, 0, 0, [], []));
            Assert.Contains($"partition {side} holds transfer {(UInt128)0xabc:x32}, written before cells as one row with an account of another partition", error.Message, StringComparison.Ordinal);
        }
        Assert.False((await ledger.Engine.ExportPartitionAsync(elsewhere, 0, 0, [], [])).More);
    }

    [Fact]
    public async Task Start_OnAStoreWithAccountsOfPartitionsItWouldNotOwn_RefusedRatherThanHidingThem()
    {
        using var directory = new TempDirectory(inMemory: false);
        var path = directory.File("ledger.db");
        // A ledger from before cells, holding an account of an upper partition.
        var upper = (UInt128)IdWhere(1, partition => partition >= Partitions / 2);
        using (var store = new SqliteLedgerStore(path))
        {
            store.Open(Partitions);
            var commit = new LedgerCommit();
            commit.NewAccounts.Add(new(PartitionOf(upper), new LedgerAccount { Id = upper, Currency = TestLedger.Currency, Code = 1 }));
            store.Commit(commit);
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestLedger.StartAsync(directory: directory, partitions: Partitions,
            options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf }));

        Assert.Contains("refusing to hide their data", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checker_CreditLegDeletedInTheOtherCell_ReportsTheMissingLeg()
    {
        await using var cells = await TwoCells.StartAsync();
        var (a, b) = await cells.OweACreditLegAsync();
        await cells.DeliveryOfA.DeliverOnceAsync(default);
        await cells.B.Engine.StopAsync();
        using (var connection = new SqliteConnection($"Data Source={cells.B.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // Damage as a broken store would: the credit leg gone, the balance with it.
            command.CommandText = "DELETE FROM transfers WHERE leg = 2; UPDATE accounts SET credits_posted = 0, debits_posted = 0";
            command.ExecuteNonQuery();
        }

        var report = cells.Check();

        Assert.False(report.Ok);
        Assert.Contains(report.Problems, problem => problem.Contains("no cell holds its credit leg", StringComparison.Ordinal));
    }

    /// <summary>Two cells on their own SQLite stores, reaching each other in-process.</summary>
    private sealed class TwoCells : IAsyncDisposable
    {
        private TwoCells(TestLedger a, TestLedger b, UInt128 fundingA)
        {
            A = a;
            B = b;
            FundingA = fundingA;
            Peers = new InProcessCellPeers(Partitions, partition => partition < Partitions / 2 ? A.Engine : B.Engine);
            DeliveryOfA = new CreditLegDelivery(A.Engine, Peers, NullLogger<CreditLegDelivery>.Instance, A.Time);
        }

        public TestLedger A { get; }

        public TestLedger B { get; }

        /// <summary>An account of cell "a" without a limit, to pay customers from.</summary>
        public UInt128 FundingA { get; }

        public InProcessCellPeers Peers { get; }

        public CreditLegDelivery DeliveryOfA { get; }

        /// <summary>An account of each cell; "a"'s holds 1,000 and has paid 300 to "b"'s, whose credit leg is owed (not delivered yet).</summary>
        public async Task<(UInt128 A, UInt128 B)> OweACreditLegAsync()
        {
            var a = await A.AccountAsync(IdWhere(1, partition => partition < Partitions / 2));
            var b = await B.AccountAsync(IdWhere(1, partition => partition >= Partitions / 2));
            await A.TransferOkAsync(1, FundingA, a, 1_000);
            await A.Engine.SubmitAsync([TestLedger.Transfer(2, a, b, 300)], await Peers.FindAccountsAsync([b], default));
            return (a, b);
        }

        public static async Task<TwoCells> StartAsync()
        {
            var a = await TestLedger.StartAsync(partitions: Partitions, options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
            var b = await TestLedger.StartAsync(partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
            var funding = await a.AccountAsync(IdWhere(900_000, partition => partition < Partitions / 2));
            return new TwoCells(a, b, funding);
        }

        public LedgerCheckReport Check() =>
            LedgerChecker.CheckCells([LedgerCellSource.Sqlite(A.DatabasePath), LedgerCellSource.Sqlite(B.DatabasePath)]);

        public async ValueTask DisposeAsync()
        {
            DeliveryOfA.Dispose();
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
    }
}
