using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Bulwark.Ledger.Tests.Cells;

/// <summary>
/// The checks after verification (docs/internals/cells.md, "Moving a partition"): the release and
/// the own confirm the rows are still the ones hashed — by the writer's change count when it took
/// the digest itself and nothing has changed the partition since, else by hashing it again. A copy
/// damaged while its cell was down is hashed again at the own, and refused.
/// </summary>
public sealed class MoveGuardTests
{
    private const int Partitions = 16;
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Own_AfterTheTargetRestarted_HashesTheCopyAgain_RefusesADamagedOne(bool damaged)
    {
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        await using var a = await TestLedger.StartAsync(directory: directoryA, partitions: Partitions, options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
        var b = await TestLedger.StartAsync(directory: directoryB, partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        var payer = await a.AccountAsync(1);
        var partition = LedgerPartitioner.PartitionOf(payer, Partitions);
        var payee = await a.AccountAsync(IdInPartition(partition, from: 2));
        await a.TransferOkAsync(10, payer, payee, 500);
        await a.TransferOkAsync(11, payee, payer, 20);

        // Copy, pause, verify and release, as the mover does.
        await b.Engine.BeginImportAsync(partition, "a", 1);
        var rows = await a.Engine.ExportPartitionAsync(partition, 0, 0, [], []);
        await b.Engine.ImportPartitionAsync(partition, "a", 1, rows, 0);
        await a.Engine.PausePartitionAsync(partition, 1, "b", 5_000);
        var digest = await a.Engine.DigestPartitionAsync(partition);
        await b.Engine.VerifyImportAsync(partition, "a", 1, digest);
        await a.Engine.ReleasePartitionAsync(partition, 1, "b", digest.Sha256);

        // The target goes down before it owns the partition; meanwhile its copy is damaged (or not).
        await b.DisposeAsync();
        if (damaged)
        {
            using var connection = new SqliteConnection($"Data Source={directoryB.File("ledger.db")};Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE accounts SET credits_posted = credits_posted + 1 WHERE partition = $p";
            command.Parameters.AddWithValue("$p", partition);
            Assert.Equal(2, command.ExecuteNonQuery());
        }
        await using var restarted = await TestLedger.StartAsync(directory: directoryB, partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });

        if (damaged)
        {
            var error = await Assert.ThrowsAsync<LedgerMoveRefusedException>(() => restarted.Engine.OwnPartitionAsync(partition, "a", 1));
            Assert.Contains($"copy of partition {partition} no longer hashes as verified", error.Message, StringComparison.Ordinal);
            Assert.Equal(OwnershipState.None, restarted.Engine.Ownership[partition].State);
        }
        else
        {
            var owned = await restarted.Engine.OwnPartitionAsync(partition, "a", 1);
            Assert.Equal((OwnershipState.Owned, 2L), (owned.State, owned.Epoch));
            Assert.Equal(480, (await restarted.GetAccountAsync(payee)).CreditsPosted - (await restarted.GetAccountAsync(payee)).DebitsPosted);
        }
    }

    /// <summary>
    /// Both sides hash their settled rows ahead of the pause (PrepareDigest) and the pause hashes
    /// only the rest: a hold pending then and posted since, new rows, balances. A copy that is
    /// dropped and copied again after it was prepared has its prefix forgotten (its rows were
    /// deleted), so the fresh copy still verifies against the source's prefixed digest.
    /// </summary>
    [Fact]
    public async Task Verify_WithDigestsPreparedAheadOfThePause_AndACopyDroppedAndCopiedAgain_VerifiesAndReleases()
    {
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        await using var a = await TestLedger.StartAsync(directory: directoryA, partitions: Partitions, options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
        await using var b = await TestLedger.StartAsync(directory: directoryB, partitions: Partitions, options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        var payer = await a.AccountAsync(1);
        var partition = LedgerPartitioner.PartitionOf(payer, Partitions);
        var payee = await a.AccountAsync(IdInPartition(partition, from: 2));
        await a.TransferOkAsync(10, payer, payee, 500);
        await a.TransferOkAsync(11, payee, payer, 20);
        await a.TransferOkAsync(12, payer, payee, 70, TransferFlags.Pending, timeoutSeconds: 3_600);

        await b.Engine.BeginImportAsync(partition, "a", 1);
        await b.Engine.ImportPartitionAsync(partition, "a", 1, await a.Engine.ExportPartitionAsync(partition, 0, 0, [], []), 0);
        var (sourcePrefix, sourceKept) = await a.Engine.PrepareDigestAsync(partition);
        var (copyPrefix, copyKept) = await b.Engine.PrepareDigestAsync(partition);
        Assert.True(sourceKept && copyKept);
        Assert.Equal((2L, 1), (sourcePrefix.Transfers, sourcePrefix.Pending.Count));
        Assert.Equal((2L, 1), (copyPrefix.Transfers, copyPrefix.Pending.Count));

        // The copy is thrown away and made again; the source changes under it.
        await b.Engine.DropPartitionCopyAsync(partition, abortImport: true);
        await b.Engine.BeginImportAsync(partition, "a", 1);
        Assert.Equal(TransferStatus.Ok, (await a.SubmitAsync(TestLedger.Post(13, 12, 60))).Status);
        await a.TransferOkAsync(14, payee, payer, 5);
        await b.Engine.ImportPartitionAsync(partition, "a", 1, await a.Engine.ExportPartitionAsync(partition, 0, 0, [], []), 0);

        await a.Engine.PausePartitionAsync(partition, 1, "b", 5_000);
        var digest = await a.Engine.DigestPartitionAsync(partition);
        Assert.Equal((2L, 5L), (digest.Accounts, digest.Transfers));
        await b.Engine.VerifyImportAsync(partition, "a", 1, digest);
        await a.Engine.ReleasePartitionAsync(partition, 1, "b", digest.Sha256);
        var owned = await b.Engine.OwnPartitionAsync(partition, "a", 1);

        Assert.Equal((OwnershipState.Owned, 2L), (owned.State, owned.Epoch));
        Assert.Equal(500 - 20 + 60 - 5, (await b.GetAccountAsync(payee)).CreditsPosted - (await b.GetAccountAsync(payee)).DebitsPosted);
    }

    /// <summary>
    /// A hold hashed as pending in both prefixes and settled on the source after them (posted,
    /// voided or expired, each a change to a row far below the watermark) is caught: the pause's
    /// digests read the rows pending in the prefix as they are then, so a copy that has not caught
    /// up is refused, and verifies once a catch-up round has refreshed it. A transfer sent again
    /// with a used id (the idempotency record) answers as the first time and changes nothing.
    /// </summary>
    [Theory]
    [InlineData("post")]
    [InlineData("void")]
    [InlineData("expire")]
    public async Task Verify_AHoldBelowTheWatermarkSettledAfterThePrefixes_IsRefusedUntilTheCopyCatchesUp(string settle)
    {
        await using var move = await PreparedMove.StartAsync();
        var (a, b, partition) = (move.A, move.B, move.Partition);
        switch (settle)
        {
            case "post":
                Assert.Equal(TransferStatus.Ok, (await a.SubmitAsync(TestLedger.Post(30, 12, 60))).Status);
                break;
            case "void":
                Assert.Equal(TransferStatus.Ok, (await a.SubmitAsync(TestLedger.Void(30, 12))).Status);
                break;
            default:
                a.Time.Advance(TimeSpan.FromSeconds(61));
                await a.Engine.ExpireHoldsAsync();
                break;
        }
        Assert.NotEqual(TransferState.Pending, (await a.GetTransferAsync(TestLedger.Id(12))).State);
        var again = await a.SubmitAsync(TestLedger.Transfer(10, move.Payer, move.Payee, 500));
        Assert.Equal((TransferStatus.Ok, true), (again.Status, again.Duplicate));
        // As the source serves them until the pause: the copy must end with these.
        var (payee, hold) = (await a.GetAccountAsync(move.Payee), await a.GetTransferAsync(TestLedger.Id(12)));

        await a.Engine.PausePartitionAsync(partition, 1, "b", 5_000);
        var digest = await a.Engine.DigestPartitionAsync(partition);
        var refused = await Assert.ThrowsAsync<LedgerMoveRefusedException>(() => b.Engine.VerifyImportAsync(partition, "a", 1, digest));
        Assert.Contains("differs", refused.Message, StringComparison.Ordinal);

        await CatchUpAsync(a, b, partition);
        await b.Engine.VerifyImportAsync(partition, "a", 1, digest);
        await a.Engine.ReleasePartitionAsync(partition, 1, "b", digest.Sha256);
        await b.Engine.OwnPartitionAsync(partition, "a", 1);
        Assert.Equal(payee, await b.GetAccountAsync(move.Payee));
        Assert.Equal((hold.State, hold.PostedAmount), ((await b.GetTransferAsync(TestLedger.Id(12))).State, (await b.GetTransferAsync(TestLedger.Id(12))).PostedAmount));
        // The pause hashed from the prefixes on both sides.
        Assert.All(move.SourceStore.Digests.Concat(move.CopyStore.Digests), prefix => Assert.NotNull(prefix));
    }

    /// <summary>
    /// A copy changed beside its cell's writer after the prefixes were hashed (a settled row
    /// rewritten or deleted below the watermark, by hand or by a fault) is not trusted from the
    /// prefix: the store's foreign-write mark moved, so the copy is hashed whole and refused, at the
    /// verify when changed before it and at the own when changed after it. Without the mark the
    /// prefix would hide the change (the row is settled, so the pause does not read it).
    /// </summary>
    [Theory]
    [InlineData("verify", "rewrite")]
    [InlineData("verify", "delete")]
    [InlineData("own", "rewrite")]
    [InlineData("own", "delete")]
    public async Task ACopyChangedBesideTheWriterAfterThePrefixes_IsHashedWholeAndRefused(string refusedAt, string change)
    {
        await using var move = await PreparedMove.StartAsync();
        var (a, b, partition) = (move.A, move.B, move.Partition);
        var sql = change == "rewrite"
            ? "UPDATE transfers SET amount = amount + 1 WHERE id = $id"
            : "DELETE FROM transfers WHERE id = $id";
        await a.Engine.PausePartitionAsync(partition, 1, "b", 5_000);
        var digest = await a.Engine.DigestPartitionAsync(partition);
        if (refusedAt == "verify")
        {
            ChangeBeside(move.CopyPath, sql, TestLedger.Id(11));
            var refused = await Assert.ThrowsAsync<LedgerMoveRefusedException>(() => b.Engine.VerifyImportAsync(partition, "a", 1, digest));
            Assert.Contains("differs", refused.Message, StringComparison.Ordinal);
            Assert.Null(move.CopyStore.Digests[^1]);
            return;
        }
        await b.Engine.VerifyImportAsync(partition, "a", 1, digest);
        await a.Engine.ReleasePartitionAsync(partition, 1, "b", digest.Sha256);
        ChangeBeside(move.CopyPath, sql, TestLedger.Id(11));

        var error = await Assert.ThrowsAsync<LedgerMoveRefusedException>(() => b.Engine.OwnPartitionAsync(partition, "a", 1));
        Assert.Contains($"copy of partition {partition} no longer hashes as verified", error.Message, StringComparison.Ordinal);
        Assert.Equal(OwnershipState.None, b.Engine.Ownership[partition].State);
        Assert.Null(move.CopyStore.Digests[^1]);
    }

    /// <summary>
    /// The pause hashes only the tail: with both prefixes kept, the source's digest and the copy's
    /// verify read the rows above the prefix's sequence and the rows pending in it, and the release
    /// and the own hash nothing (the writer's change count says the rows are still the ones hashed).
    /// </summary>
    [Fact]
    public async Task Pause_WithPrefixesKept_HashesOnlyTheTail_AndReleaseAndOwnHashNothing()
    {
        await using var move = await PreparedMove.StartAsync();
        var (a, b, partition) = (move.A, move.B, move.Partition);
        await a.TransferOkAsync(31, move.Payee, move.Payer, 7);
        await CatchUpAsync(a, b, partition);
        move.SourceStore.Digests.Clear();
        move.CopyStore.Digests.Clear();

        await a.Engine.PausePartitionAsync(partition, 1, "b", 5_000);
        var digest = await a.Engine.DigestPartitionAsync(partition);
        await b.Engine.VerifyImportAsync(partition, "a", 1, digest);
        await a.Engine.ReleasePartitionAsync(partition, 1, "b", digest.Sha256);
        await b.Engine.OwnPartitionAsync(partition, "a", 1);

        var sourcePrefix = Assert.Single(move.SourceStore.Digests);
        var copyPrefix = Assert.Single(move.CopyStore.Digests);
        Assert.NotNull(sourcePrefix);
        Assert.NotNull(copyPrefix);
        // In the prefix: the settled transfers 10 and 11; in the tail: hold 12 (pending then) and transfer 31.
        Assert.Equal((2L, 1), (sourcePrefix.Transfers, sourcePrefix.Pending.Count));
        Assert.Equal(4L, digest.Transfers);
        Assert.Equal(OwnershipState.Owned, b.Engine.Ownership[partition].State);
    }

    private static void ChangeBeside(string path, string sql, UInt128 id)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$id", IdBytes(id));
        Assert.Equal(1, command.ExecuteNonQuery());
    }

    private static byte[] IdBytes(UInt128 id)
    {
        var bytes = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        return bytes;
    }

    /// <summary>One catch-up round as the mover runs it: the rows after the copy's watermark, and its pending holds and open owed legs as they are now.</summary>
    private static async Task CatchUpAsync(TestLedger a, TestLedger b, int partition)
    {
        var progress = await b.Engine.GetImportProgressAsync(partition);
        var rows = await a.Engine.ExportPartitionAsync(partition, progress.Record.Watermark, 0, progress.PendingHolds, progress.OpenOwedLegs);
        await b.Engine.ImportPartitionAsync(partition, "a", 1, rows, progress.Record.Watermark);
    }

    /// <summary>
    /// Cell a owns a partition with two settled transfers (10, 11) and a pending hold (12, 60 s);
    /// cell b holds a copy of it; both have hashed their settled rows ahead of the pause.
    /// </summary>
    private sealed class PreparedMove : IAsyncDisposable
    {
        private readonly TempDirectory _directoryA = new();
        private readonly TempDirectory _directoryB = new();

        public TestLedger A { get; private set; } = null!;

        public TestLedger B { get; private set; } = null!;

        public HookedStore SourceStore { get; private set; } = null!;

        public HookedStore CopyStore { get; private set; } = null!;

        public string CopyPath => _directoryB.File("ledger.db");

        public int Partition { get; private set; }

        public UInt128 Payer { get; private set; }

        public UInt128 Payee { get; private set; }

        public static async Task<PreparedMove> StartAsync()
        {
            var move = new PreparedMove();
            move.A = await TestLedger.StartAsync(directory: move._directoryA, partitions: Partitions,
                options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf }, wrapStore: store => move.SourceStore = new HookedStore(store));
            move.B = await TestLedger.StartAsync(directory: move._directoryB, partitions: Partitions,
                options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf }, wrapStore: store => move.CopyStore = new HookedStore(store));
            var a = move.A;
            move.Payer = await a.AccountAsync(1);
            move.Partition = LedgerPartitioner.PartitionOf(move.Payer, Partitions);
            move.Payee = await a.AccountAsync(IdInPartition(move.Partition, from: 2));
            await a.TransferOkAsync(10, move.Payer, move.Payee, 500);
            await a.TransferOkAsync(11, move.Payee, move.Payer, 20);
            await a.TransferOkAsync(12, move.Payer, move.Payee, 70, TransferFlags.Pending, timeoutSeconds: 60);

            await move.B.Engine.BeginImportAsync(move.Partition, "a", 1);
            await move.B.Engine.ImportPartitionAsync(move.Partition, "a", 1, await a.Engine.ExportPartitionAsync(move.Partition, 0, 0, [], []), 0);
            var (sourcePrefix, sourceKept) = await a.Engine.PrepareDigestAsync(move.Partition);
            var (copyPrefix, copyKept) = await move.B.Engine.PrepareDigestAsync(move.Partition);
            Assert.True(sourceKept && copyKept);
            Assert.Equal((2L, 1), (sourcePrefix.Transfers, sourcePrefix.Pending.Count));
            Assert.Equal((2L, 1), (copyPrefix.Transfers, copyPrefix.Pending.Count));
            return move;
        }

        public async ValueTask DisposeAsync()
        {
            await B.DisposeAsync();
            await A.DisposeAsync();
            _directoryB.Dispose();
            _directoryA.Dispose();
        }
    }

    private static int IdInPartition(int partition, int from)
    {
        var id = from;
        while (LedgerPartitioner.PartitionOf((UInt128)id, Partitions) != partition)
        {
            id++;
        }
        return id;
    }
}
