using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>
/// What every store must do to move a partition (docs/internals/cells.md, "Moving a partition"):
/// export a partition's rows in sequence order in chunks with the holds and owed legs that changed
/// since, import them into a copy (of either store kind) that then hashes as its source, record the
/// move's steps, delete a copy in chunks without touching other partitions, and leave copies out
/// of the expiry sweep.
/// </summary>
public abstract partial class LedgerStoreCellContractTests
{
    /// <summary>A second account of <see cref="PartitionD"/>, and one of <see cref="PartitionOther"/>.</summary>
    private static readonly UInt128 D2 = FirstIdIn(PartitionD, from: 2);
    private static readonly UInt128 O = FirstIdIn(PartitionOther, from: 2);
    private static readonly UInt128 OwedId = 206;

    /// <summary>A fresh store of the other kind (PostgreSQL for SQLite and the other way round): a copy may live in either.</summary>
    protected abstract ILedgerStore OpenOtherKindStore();

    [Fact]
    public async Task Export_PagesInSequenceOrderWithinTheLimit_OnlyThePartitionsRows_UntilNoMore()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        var expected = Seed(store);

        var pages = new List<PartitionRowSet>();
        long after = 0;
        do
        {
            var page = await store.ExportPartitionAsync(PartitionD, after, 3, [], [], CancellationToken.None);
            pages.Add(page);
            Assert.InRange(pages.Count, 1, 10);
            after = page.Watermark;
        }
        while (pages[^1].More);

        Assert.Equal([3, 3, 2], pages.Select(page => page.Transfers.Count));
        Assert.Equal([true, true, false], pages.Select(page => page.More));
        Assert.Equal(pages.Select(page => page.Transfers[^1].Sequence), pages.Select(page => page.Watermark));
        Assert.Equal(expected, pages.SelectMany(page => page.Transfers));
        Assert.All(pages, page => Assert.Equal([D, D2], page.Accounts.Select(account => account.Id).Order()));
        Assert.All(pages, page => Assert.Empty(page.Refreshed));
        // The open owed leg comes with every page (the copy keeps it current); no other partition's does.
        Assert.All(pages, page => Assert.Equal([OwedId], page.OwedLegs.Select(owed => owed.Leg.Id)));
        var accountD = store.LoadAccounts(PartitionD).Single(account => account.Id == D);
        Assert.Equal(accountD, pages[0].Accounts.Single(account => account.Id == D));

        var caughtUp = await store.ExportPartitionAsync(PartitionD, after, 3, [], [], CancellationToken.None);
        Assert.Equal((0, false, after), (caughtUp.Transfers.Count, caughtUp.More, caughtUp.Watermark));
    }

    /// <summary>
    /// A partition of many accounts, one far busier than the rest, its rows interleaved with another
    /// partition's: pages of any size give every row of the partition once, in sequence order, each
    /// within the limit (the SQLite store merges one index range per account rather than sorting).
    /// </summary>
    [Fact]
    public async Task Export_ManyAccountsOneBusy_PagesOfAnySizeGiveEveryRowOnceInSequenceOrder()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        var accounts = new List<UInt128> { FirstIdIn(PartitionD, from: 1_000) };
        while (accounts.Count < 12)
        {
            accounts.Add(FirstIdIn(PartitionD, from: accounts[^1] + 1));
        }
        var commit = new LedgerCommit();
        commit.NewAccounts.Add(new(PartitionC, new LedgerAccount { Id = C, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500 }));
        commit.NewAccounts.AddRange(accounts.Select(id => new Partitioned<LedgerAccount>(PartitionD, new LedgerAccount { Id = id, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500 })));
        for (var sequence = 1; sequence <= 300; sequence++)
        {
            var other = accounts[1 + (sequence % 11)];
            commit.NewTransfers.Add((sequence % 4) switch
            {
                // The busy account pays the others: most of the partition's rows are its.
                0 or 1 => new(PartitionD, Row(10_000 + (UInt128)sequence, sequence, accounts[0], other, 5, TransferLeg.Whole)),
                2 => new(PartitionD, Row(10_000 + (UInt128)sequence, sequence, other, C, 3, TransferLeg.Debit)),
                // A credit leg arriving (found through its credit account) and, elsewhere, a row of partition C.
                _ => sequence % 8 == 3
                    ? new(PartitionD, Row(10_000 + (UInt128)sequence, sequence, C, other, 2, TransferLeg.Credit))
                    : new(PartitionC, Row(10_000 + (UInt128)sequence, sequence, C, other, 2, TransferLeg.Debit)),
            });
        }
        store.Commit(commit);
        var expected = commit.NewTransfers.Where(row => row.Partition == PartitionD).Select(row => row.Row).ToList();

        foreach (var limit in new[] { 1, 2, 7, 50, 10_000 })
        {
            var exported = new List<LedgerTransfer>();
            long after = 0;
            for (var round = 0; ; round++)
            {
                Assert.InRange(round, 0, expected.Count + 1);
                var page = await store.ExportPartitionAsync(PartitionD, after, limit, [], [], CancellationToken.None);
                Assert.InRange(page.Transfers.Count, 0, limit);
                exported.AddRange(page.Transfers);
                after = page.Watermark;
                if (!page.More)
                {
                    break;
                }
            }
            Assert.Equal(expected, exported);
        }
    }

    [Fact]
    public async Task Export_RefreshesTheHoldsAndOwedLegsAskedFor_AsTheyAreNow()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        Seed(store);
        var first = await store.ExportPartitionAsync(PartitionD, 0, 100, [], [], CancellationToken.None);
        Assert.False(first.More);
        Assert.Equal("204, 205 | 206", await OpenIds(store));

        // Since the copy: hold 204 is posted, the owed leg delivered, and a new row arrives.
        var change = new LedgerCommit();
        var posted = first.Transfers.Single(row => row.Id == 204) with { State = TransferState.Posted, PostedAmount = 50 };
        change.ChangedHolds.Add(posted);
        change.SettledOwedLegs.Add((OwedId, OwedLegState.Delivered));
        var late = Row(209, 20, D2, D, 5, TransferLeg.Whole);
        change.NewTransfers.Add(new(PartitionD, late));
        store.Commit(change);

        var next = await store.ExportPartitionAsync(PartitionD, first.Watermark, 100, [204, 205, 999], [OwedId], CancellationToken.None);

        Assert.Equal([late], next.Transfers);
        Assert.Equal([posted, first.Transfers.Single(row => row.Id == 205)], next.Refreshed.OrderBy(row => row.Id));
        Assert.Equal([(OwedId, OwedLegState.Delivered)], next.OwedLegs.Select(owed => (owed.Leg.Id, owed.State)));
        Assert.Equal("205 | ", await OpenIds(store));
        // A hold of another partition is not this partition's to refresh.
        Assert.Empty((await store.ExportPartitionAsync(PartitionC, 0, 100, [204], [], CancellationToken.None)).Refreshed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Import_IntoAStoreOfEitherKind_HashesAsTheSource_AndFindsEveryRow(bool otherKind)
    {
        using var source = OpenStore(NewLocation());
        source.Open(Partitions);
        var rows = Seed(source);
        using var copy = otherKind ? OpenOtherKindStore() : OpenStore(NewLocation());
        copy.Open(Partitions);
        // The copy has rows of its own first: it numbers the imported rows its own way.
        var own = new LedgerCommit();
        own.NewAccounts.Add(new(PartitionOther, new LedgerAccount { Id = O, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500 }));
        own.NewTransfers.Add(new(PartitionOther, Row(300, 1, O, O, 1, TransferLeg.Whole)));
        own.NewTransfers.Add(new(PartitionOther, Row(301, 2, O, O, 1, TransferLeg.Whole)));
        copy.Commit(own);
        copy.InitialiseCell("copy", "", [PartitionOther]);
        // As the writer does before anything else (on PostgreSQL this builds the committed-id filter).
        copy.LoadAccounts();
        var record = new PartitionImportRecord(PartitionD, "source", 1, 0, ImportRecordState.Copying, []);
        copy.SaveMoveStep(new MoveStep { Import = record });

        record = await CopyRounds(source, copy, record, limit: 3);
        // The source changes under the copy; one more round brings it up to date.
        var change = new LedgerCommit();
        change.ChangedHolds.Add(rows.Single(row => row.Id == 204) with { State = TransferState.Voided });
        change.SettledOwedLegs.Add((OwedId, OwedLegState.Returned));
        change.NewTransfers.Add(new(PartitionD, Row(OwedId, 20, D, C, 15, TransferLeg.Return)));
        change.Balances.Add(source.LoadAccounts(PartitionD).Single(account => account.Id == D) with { DebitsPending = 0, DebitsPosted = 1 });
        source.Commit(change);
        Assert.NotEqual(source.DigestPartition(PartitionD).Sha256, copy.DigestPartition(PartitionD).Sha256);
        record = await CopyRounds(source, copy, record, limit: 3);

        var expected = source.DigestPartition(PartitionD);
        var digest = copy.DigestPartition(PartitionD);
        Assert.True(digest.SameRows(expected), $"copy {digest}, source {expected}");
        Assert.Equal((9L, 2L, 1L), (expected.Transfers, expected.Accounts, expected.OwedLegs));
        Assert.Equal(20, record.Watermark);
        Assert.Equal(record.Watermark, Assert.Single(copy.LoadCell()!.Imports).Watermark);
        Assert.Equal(source.LoadAccounts(PartitionD).OrderBy(account => account.Id), copy.LoadAccounts(PartitionD).OrderBy(account => account.Id));
        // Every imported row is found by the writer's lookups, numbered after the copy's own rows.
        foreach (var row in await AllRows(source, PartitionD))
        {
            var found = row.Leg <= TransferLeg.Debit ? copy.FindTransfer(row.Id) : copy.FindLeg(row.Id, row.Leg);
            Assert.NotNull(found);
            Assert.Equal(row with { Sequence = found.Sequence }, found);
            Assert.True(found.Sequence > 2);
        }
        // The other partitions are as they were, on both sides.
        Assert.Equal(2, copy.LoadPosition().Sequence - (await AllRows(copy, PartitionD)).Count);
        Assert.Equal(0, copy.DigestPartition(PartitionC).Transfers);
    }

    /// <summary>
    /// A move hashes a partition's settled rows before its pause and only the rest in it: the two
    /// parts together must be the whole digest, whatever changed in between — pending holds taken
    /// out of the prefix and settled since, new rows, an owed leg returned, balances.
    /// </summary>
    [Fact]
    public async Task DigestFromASettledPrefix_EqualsTheWholeDigest_AfterHoldsSettleAndRowsArrive()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        var rows = Seed(store);
        // An owed leg delivered before the prefix is taken: settled, in it.
        var delivered = new LedgerCommit();
        delivered.NewTransfers.Add(new(PartitionD, Row(211, 13, D, C, 3, TransferLeg.Debit)));
        delivered.NewOwedLegs.Add(new OwedCreditLeg(PartitionD, Row(211, 0, D, C, 3, TransferLeg.Credit), OwedLegState.Owed));
        store.Commit(delivered);
        var settle = new LedgerCommit();
        settle.SettledOwedLegs.Add((211, OwedLegState.Delivered));
        store.Commit(settle);

        var prefix = await store.DigestSettledAsync(PartitionD, CancellationToken.None);

        Assert.Equal([(204, TransferLeg.Whole), (205, TransferLeg.Debit)], prefix.Pending.Select(row => ((int)row.Id, row.Leg)).Order());
        Assert.Equal(rows.Count + 1 - 2, prefix.Transfers);
        Assert.Equal(13, prefix.ThroughSequence);
        Assert.Equal((1L, OwedId), (prefix.OwedLegs, Assert.Single(prefix.OpenOwedLegs)));
        var whole = store.DigestPartition(PartitionD);
        Assert.True(store.DigestPartition(PartitionD, prefix).SameRows(whole));

        var change = new LedgerCommit();
        change.ChangedHolds.Add(rows.Single(row => row.Id == 204) with { State = TransferState.Voided });
        change.ChangedHolds.Add(rows.Single(row => row.Id == 205) with { State = TransferState.HoldPosted, PostedAmount = 40 });
        change.SettledOwedLegs.Add((OwedId, OwedLegState.Returned));
        change.NewTransfers.Add(new(PartitionD, Row(OwedId, 20, D, C, 15, TransferLeg.Return)));
        change.NewTransfers.Add(new(PartitionD, Row(209, 21, D, D2, 5, TransferLeg.Whole) with { Flags = TransferFlags.Pending, State = TransferState.Pending }));
        change.NewTransfers.Add(new(PartitionOther, Row(252, 22, O, O, 1, TransferLeg.Whole)));
        change.Balances.Add(store.LoadAccounts(PartitionD).Single(account => account.Id == D) with { DebitsPending = 5, DebitsPosted = 230 });
        // A leg owed since, and one owed and returned since.
        change.NewTransfers.Add(new(PartitionD, Row(212, 23, D, C, 4, TransferLeg.Debit)));
        change.NewOwedLegs.Add(new OwedCreditLeg(PartitionD, Row(212, 0, D, C, 4, TransferLeg.Credit), OwedLegState.Owed));
        change.NewTransfers.Add(new(PartitionD, Row(213, 24, D, C, 6, TransferLeg.Debit)));
        change.NewOwedLegs.Add(new OwedCreditLeg(PartitionD, Row(213, 0, D, C, 6, TransferLeg.Credit), OwedLegState.Owed));
        store.Commit(change);
        var returned = new LedgerCommit();
        returned.SettledOwedLegs.Add((213, OwedLegState.Returned));
        returned.NewTransfers.Add(new(PartitionD, Row(213, 25, D, C, 6, TransferLeg.Return)));
        store.Commit(returned);

        var after = store.DigestPartition(PartitionD);
        var fromPrefix = store.DigestPartition(PartitionD, prefix);
        Assert.False(after.SameRows(whole));
        Assert.True(fromPrefix.SameRows(after), $"from the prefix {fromPrefix}, whole {after}");
        Assert.Equal((after.Transfers, after.OwedLegs, after.LastSequence), (fromPrefix.Transfers, fromPrefix.OwedLegs, fromPrefix.LastSequence));
        Assert.Equal(4, after.OwedLegs);
        // The prefix is of one partition.
        Assert.Throws<ArgumentException>(() => store.DigestPartition(PartitionC, prefix));
    }

    [Fact]
    public void SaveMoveStep_RoundTripsThroughLoadCell_AndSurvivesReopen()
    {
        var location = NewLocation();
        var digest = Enumerable.Range(1, 32).Select(value => (byte)value).ToArray();
        using (var store = OpenStore(location))
        {
            store.Open(Partitions);
            store.InitialiseCell("cell-a", "cluster-1", [PartitionD]);
            store.SaveMoveStep(new MoveStep
            {
                Owner = new PartitionOwnership(PartitionD, 1, OwnershipState.Moving, "cell-b", 2, 1_700_000_123_456),
                Import = new PartitionImportRecord(PartitionC, "cell-c", 3, 17, ImportRecordState.Copying, []),
            });
            var paused = store.LoadCell()!;
            Assert.Equal([new PartitionOwnership(PartitionD, 1, OwnershipState.Moving, "cell-b", 2, 1_700_000_123_456)], paused.Ownership);
            AssertImport(new PartitionImportRecord(PartitionC, "cell-c", 3, 17, ImportRecordState.Copying, []), Assert.Single(paused.Imports));

            store.SaveMoveStep(new MoveStep { Import = new PartitionImportRecord(PartitionC, "cell-c", 3, 40, ImportRecordState.Verified, digest) });
            AssertImport(new PartitionImportRecord(PartitionC, "cell-c", 3, 40, ImportRecordState.Verified, digest), Assert.Single(store.LoadCell()!.Imports));
            store.SaveMoveStep(new MoveStep { Import = new PartitionImportRecord(PartitionOther, "cell-c", 3, 0, ImportRecordState.Copying, []) });

            // Owning the copy and forgetting its import record is one step.
            store.SaveMoveStep(new MoveStep { Owner = new PartitionOwnership(PartitionC, 4, OwnershipState.Owned, "", 0), DeleteImport = PartitionC });
            store.SaveMoveStep(new MoveStep { Owner = new PartitionOwnership(PartitionD, 1, OwnershipState.Released, "cell-b", 2) });
        }
        using var again = OpenStore(location);
        again.Open(Partitions);
        var record = again.LoadCell()!;
        Assert.Equal(("cell-a", "cluster-1"), (record.Cell, record.ClusterId));
        Assert.Equal(
            new[] { new PartitionOwnership(PartitionD, 1, OwnershipState.Released, "cell-b", 2), new PartitionOwnership(PartitionC, 4, OwnershipState.Owned, "", 0) }
                .OrderBy(row => row.Partition),
            record.Ownership);
        AssertImport(new PartitionImportRecord(PartitionOther, "cell-c", 3, 0, ImportRecordState.Copying, []), Assert.Single(record.Imports));

        static void AssertImport(PartitionImportRecord expected, PartitionImportRecord actual)
        {
            Assert.Equal(
                (expected.Partition, expected.SourceCell, expected.SourceEpoch, expected.Watermark, expected.State),
                (actual.Partition, actual.SourceCell, actual.SourceEpoch, actual.Watermark, actual.State));
            Assert.Equal(expected.Digest, actual.Digest);
        }
    }

    [Fact]
    public async Task DeletePartitionRows_InChunks_LeavesNothingOfThePartition_AndTouchesNoOtherPartition()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        var rows = Seed(store);
        var otherC = store.DigestPartition(PartitionC);
        var other = store.DigestPartition(PartitionOther);
        var creditLegInC = store.FindLeg(202, TransferLeg.Credit);
        Assert.NotNull(creditLegInC);

        var chunks = new List<int>();
        for (var deleted = store.DeletePartitionRows(PartitionD, 3); deleted > 0; deleted = store.DeletePartitionRows(PartitionD, 3))
        {
            chunks.Add(deleted);
            Assert.InRange(chunks.Count, 1, 10);
        }

        // Transfer rows, the owed leg and the two accounts: every chunk full but the last.
        Assert.Equal(rows.Count + 1 + 2, chunks.Sum());
        Assert.All(chunks.SkipLast(1), chunk => Assert.Equal(3, chunk));
        var gone = store.DigestPartition(PartitionD);
        Assert.Equal((0L, 0L, 0L), (gone.Accounts, gone.Transfers, gone.OwedLegs));
        Assert.Empty(store.LoadAccounts(PartitionD));
        Assert.Empty((await store.ExportPartitionAsync(PartitionD, 0, 100, [], [], CancellationToken.None)).Transfers);
        Assert.Empty(await store.GetOwedCreditLegsAsync(10, [], CancellationToken.None));
        Assert.True(store.DigestPartition(PartitionC).SameRows(otherC));
        Assert.True(store.DigestPartition(PartitionOther).SameRows(other));
        Assert.Equal(creditLegInC, store.FindLeg(202, TransferLeg.Credit));
        Assert.Equal([C, O], store.LoadAccounts().Select(account => account.Id).Order());
    }

    [Fact]
    public async Task FindRowAcrossPartitions_ARowFromBeforeCellsIsFoundFromBothItsPartitions_LegsAndOtherPartitionsAreNot()
    {
        var location = NewLocation();
        CreatePreCellsStore(location);
        using (var upgraded = OpenStore(location))
        {
            upgraded.Open(Partitions);
            // The WHOLE rows D to C of a store from before cells: D's partition holds them, C's account is credited by them.
            Assert.Contains(await upgraded.FindRowAcrossPartitionsAsync(PartitionD, CancellationToken.None), new UInt128?[] { 10, 11 });
            Assert.Contains(await upgraded.FindRowAcrossPartitionsAsync(PartitionC, CancellationToken.None), new UInt128?[] { 10, 11 });
            Assert.Null(await upgraded.FindRowAcrossPartitionsAsync(PartitionOther, CancellationToken.None));
        }

        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        store.Commit(Accounts());
        var (debitLeg, creditLeg) = Legs(90, sequence: 1, amount: 10);
        var commit = new LedgerCommit();
        commit.NewTransfers.Add(new(PartitionD, debitLeg));
        commit.NewTransfers.Add(new(PartitionC, creditLeg));
        store.Commit(commit);
        Assert.Null(await store.FindRowAcrossPartitionsAsync(PartitionD, CancellationToken.None));
        Assert.Null(await store.FindRowAcrossPartitionsAsync(PartitionC, CancellationToken.None));
    }

    [Fact]
    public void FindExpiredHolds_LeavesOutThePartitionsNotServed()
    {
        using var store = OpenStore(NewLocation());
        store.Open(Partitions);
        Seed(store);
        var holdInC = Row(210, 30, C, C, 7, TransferLeg.Whole) with
        {
            Flags = TransferFlags.Pending,
            TimeoutSeconds = 1,
            State = TransferState.Pending,
            ExpiresAtUnixMs = 8_000,
        };
        var commit = new LedgerCommit();
        commit.NewTransfers.Add(new(PartitionC, holdInC));
        store.Commit(commit);

        Assert.Equal([(UInt128)210, 204], store.FindExpiredHolds(10_000, 10, []).Select(hold => hold.Id));
        Assert.Equal([(UInt128)210], store.FindExpiredHolds(10_000, 10, [PartitionD]).Select(hold => hold.Id));
        Assert.Equal([(UInt128)204], store.FindExpiredHolds(10_000, 10, [PartitionC, PartitionOther]).Select(hold => hold.Id));
        Assert.Empty(store.FindExpiredHolds(10_000, 10, [PartitionC, PartitionD]));
    }

    /// <summary>
    /// Accounts D, D2 (partition D), C and O, and rows in every partition; returns the rows of
    /// partition D in sequence order: a whole row with metadata, a debit leg (its credit leg in C),
    /// a credit leg (its debit leg in C), a hold expiring at 9,000, a hold between partitions, a
    /// debit leg whose credit leg is owed to another cell, a whole row between partitions as
    /// made before cells, and a post.
    /// </summary>
    private static List<LedgerTransfer> Seed(ILedgerStore store)
    {
        var commit = new LedgerCommit();
        foreach (var (partition, id) in new[] { (PartitionD, D), (PartitionD, D2), (PartitionC, C), (PartitionOther, O) })
        {
            commit.NewAccounts.Add(new(partition, new LedgerAccount { Id = id, Currency = "GBP", Code = 1, CreatedAtUnixMs = 500 }));
        }
        var rows = new List<Partitioned<LedgerTransfer>>
        {
            new(PartitionD, Row(201, 1, D, D2, 100, TransferLeg.Whole) with { Metadata = new Dictionary<string, string> { ["order"] = "o-1", ["a"] = "é" } }),
            new(PartitionD, Row(202, 2, D, C, 30, TransferLeg.Debit)),
            new(PartitionC, Row(202, 3, D, C, 30, TransferLeg.Credit)),
            new(PartitionC, Row(203, 4, C, D, 20, TransferLeg.Debit)),
            new(PartitionD, Row(203, 5, C, D, 20, TransferLeg.Credit)),
            new(PartitionD, Row(204, 6, D, D2, 50, TransferLeg.Whole) with
            {
                Flags = TransferFlags.Pending, TimeoutSeconds = 3, State = TransferState.Pending, ExpiresAtUnixMs = 9_000,
            }),
            new(PartitionD, Row(205, 7, D, C, 40, TransferLeg.Debit) with { Flags = TransferFlags.Pending, State = TransferState.Pending }),
            new(PartitionOther, Row(250, 8, O, O, 1, TransferLeg.Whole)),
            new(PartitionD, Row(OwedId, 9, D, C, 15, TransferLeg.Debit)),
            new(PartitionD, Row(207, 10, D, C, 9, TransferLeg.Whole)),
            new(PartitionC, Row(251, 11, C, D, 8, TransferLeg.Whole)),
            new(PartitionD, Row(208, 12, D, C, 40, TransferLeg.Debit) with { Flags = TransferFlags.PostPending, PendingId = 205 }),
        };
        commit.NewTransfers.AddRange(rows);
        commit.NewOwedLegs.Add(new OwedCreditLeg(PartitionD, Row(OwedId, 0, D, C, 15, TransferLeg.Credit) with
        {
            Metadata = new Dictionary<string, string> { ["ref"] = "r" },
        }, OwedLegState.Owed));
        store.Commit(commit);
        // Balances the rows do not add up to: the stores copy balances, they do not recompute them.
        var balances = new LedgerCommit();
        balances.Balances.Add(store.LoadAccounts(PartitionD).Single(account => account.Id == D) with { DebitsPending = 90, DebitsPosted = 194, CreditsPosted = 20 });
        store.Commit(balances);
        return rows.Where(row => row.Partition == PartitionD).Select(row => row.Row).ToList();
    }

    private static LedgerTransfer Row(UInt128 id, long sequence, UInt128 debit, UInt128 credit, long amount, TransferLeg leg) => new()
    {
        Id = id,
        Sequence = sequence,
        DebitAccountId = debit,
        CreditAccountId = credit,
        Amount = amount,
        Currency = "GBP",
        Code = 3,
        TimestampUnixMs = 1_000 * sequence,
        State = TransferState.Posted,
        Leg = leg,
    };

    /// <summary>Copies from <paramref name="source"/> until it has no more, as the writer of the copy does (renumbering into the copy's sequence).</summary>
    private static async Task<PartitionImportRecord> CopyRounds(ILedgerStore source, ILedgerStore copy, PartitionImportRecord record, int limit)
    {
        for (var round = 0; ; round++)
        {
            Assert.InRange(round, 0, 20);
            var (holds, owed) = await copy.GetOpenIdsAsync(record.Partition, CancellationToken.None);
            var rows = await source.ExportPartitionAsync(record.Partition, record.Watermark, limit, holds, owed, CancellationToken.None);
            var sequence = copy.LoadPosition().Sequence;
            var renumbered = rows.Transfers.Select(row => row with { Sequence = ++sequence }).ToArray();
            record = record with { Watermark = rows.Watermark };
            copy.ImportPartitionRows(record.Partition, rows with { Transfers = renumbered }, record);
            if (!rows.More)
            {
                return record;
            }
        }
    }

    /// <summary>The open ids of partition D as "holds | owed legs", each in order.</summary>
    private static async Task<string> OpenIds(ILedgerStore store)
    {
        var (holds, owed) = await store.GetOpenIdsAsync(PartitionD, CancellationToken.None);
        return $"{string.Join(", ", holds.Order())} | {string.Join(", ", owed.Order())}";
    }

    private static async Task<IReadOnlyList<LedgerTransfer>> AllRows(ILedgerStore store, int partition) =>
        (await store.ExportPartitionAsync(partition, 0, 1_000, [], [], CancellationToken.None)).Transfers;

    private static UInt128 FirstIdIn(int partition, UInt128 from)
    {
        for (var id = from; ; id++)
        {
            if (LedgerPartitioner.PartitionOf(id, Partitions) == partition && id != D && id != C)
            {
                return id;
            }
        }
    }
}
