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
