using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;

namespace Bulwark.Ledger.Tests.Cells;

/// <summary>
/// A partition moved between two cells on PostgreSQL (two databases of the test server) through
/// the engine's move steps (docs/internals/cells.md, "Moving a partition"), as the mover drives
/// them: copy in chunks, catch up, pause, verify, release, own, drop the old copy.
/// </summary>
public sealed class PostgresPartitionMoveTests
{
    private const int Partitions = 16;
    private static readonly int[] LowerHalf = Enumerable.Range(0, Partitions / 2).ToArray();
    private static readonly int[] UpperHalf = Enumerable.Range(Partitions / 2, Partitions / 2).ToArray();

    [Fact]
    public async Task Move_BetweenPostgresCells_TheNewOwnerAnswersARetryAsDuplicate_PostsACopiedHold_AndTheCheckerPasses()
    {
        var databaseA = PostgresTestServer.NewDatabase("movea");
        var databaseB = PostgresTestServer.NewDatabase("moveb");
        await using var a = await TestLedger.StartAsync(postgres: databaseA, partitions: Partitions,
            options: new LedgerOptions { CellName = "a", InitialPartitions = LowerHalf });
        await using var b = await TestLedger.StartAsync(postgres: databaseB, partitions: Partitions,
            options: new LedgerOptions { CellName = "b", InitialPartitions = UpperHalf });
        // x and y in the partition that moves, z in another partition of cell a.
        var x = await a.AccountAsync(IdWhere(1, partition => partition < Partitions / 2));
        var moving = PartitionOf(x);
        var y = await a.AccountAsync(IdWhere((int)x + 1, partition => partition == moving));
        var z = await a.AccountAsync(IdWhere(1, partition => partition < Partitions / 2 && partition != moving));
        var paid = await a.TransferOkAsync(100, x, y, 100);
        await a.TransferOkAsync(101, x, z, 30);
        await a.TransferOkAsync(102, z, x, 20);
        await a.TransferOkAsync(103, x, y, 50, TransferFlags.Pending);

        // Copy in chunks of two rows, with a payment arriving between chunks.
        await b.Engine.BeginImportAsync(moving, "a", 1);
        await CopyRoundAsync(a, b, moving);
        await a.TransferOkAsync(104, y, x, 7);
        while (await CopyRoundAsync(a, b, moving))
        {
        }
        // The last balances the source serves (paused, it answers for them no more).
        var accountsAtTheSource = await a.Engine.GetAccountsAsync([x, y]);
        Assert.Equal(2, accountsAtTheSource.Count);
        await a.Engine.PausePartitionAsync(moving, 1, "b", LedgerLimits.MovePauseLeaseMillisecondsMax);
        Assert.Equal(TransferStatus.WrongOwner, (await a.SubmitAsync(TestLedger.Transfer(105, x, y, 1))).Status);
        Assert.Empty(await a.Engine.GetAccountsAsync([x, y]));
        while (await CopyRoundAsync(a, b, moving))
        {
        }
        var digest = await a.Engine.DigestPartitionAsync(moving);
        var verified = await b.Engine.VerifyImportAsync(moving, "a", 1, digest);
        Assert.Equal(ImportRecordState.Verified, verified.State);
        await a.Engine.ReleasePartitionAsync(moving, 1, "b", digest.Sha256);
        var owned = await b.Engine.OwnPartitionAsync(moving, "a", 1);
        Assert.Equal((OwnershipState.Owned, 2L), (owned.State, owned.Epoch));
        Assert.Equal(accountsAtTheSource, await b.Engine.GetAccountsAsync([x, y]));

        // A client's retry of a payment committed at the old owner: the same payment, written once.
        var retry = await b.SubmitAsync(TestLedger.Transfer(100, x, y, 100));
        Assert.Equal((TransferStatus.Ok, true), (retry.Status, retry.Duplicate));
        Assert.Equal(paid, retry.Transfer);
        // A hold placed at the old owner is posted at the new one.
        Assert.Equal(TransferStatus.Ok, (await b.SubmitAsync(TestLedger.Post(106, 103))).Status);
        await b.TransferOkAsync(107, x, y, 1);
        Assert.Equal(100 + 50 + 1, (await b.GetAccountAsync(y)).CreditsPosted);
        Assert.Equal(TransferStatus.WrongOwner, (await a.SubmitAsync(TestLedger.Transfer(108, x, y, 1))).Status);
        AssertChecked(LedgerChecker.CheckCells([LedgerCellSource.Postgres(databaseA), LedgerCellSource.Postgres(databaseB)]));

        // The old owner's copy goes; the ledger across both cells still checks.
        Assert.True(await a.Engine.DropPartitionCopyAsync(moving, abortImport: false) > 0);
        Assert.Equal(0L, (await a.Engine.DigestPartitionAsync(moving)).Transfers);
        AssertChecked(LedgerChecker.CheckCells([LedgerCellSource.Postgres(databaseA), LedgerCellSource.Postgres(databaseB)]));
    }

    /// <summary>One export from the source into the copy, as the mover does it; true when the source has more.</summary>
    private static async Task<bool> CopyRoundAsync(TestLedger source, TestLedger copy, int partition)
    {
        var progress = await copy.Engine.GetImportProgressAsync(partition);
        var rows = await source.Engine.ExportPartitionAsync(partition, progress.Record.Watermark, 2, progress.PendingHolds, progress.OpenOwedLegs);
        await copy.Engine.ImportPartitionAsync(partition, "a", 1, rows, progress.Record.Watermark);
        return rows.More;
    }

    private static void AssertChecked(LedgerCheckReport report) =>
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Problems));

    private static int PartitionOf(UInt128 id) => LedgerPartitioner.PartitionOf(id, Partitions);

    private static int IdWhere(int from, Func<int, bool> where)
    {
        var id = from;
        while (!where(PartitionOf((UInt128)id)))
        {
            id++;
        }
        return id;
    }
}
