using System.Collections.Concurrent;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// Moving a partition between real cells while payments, holds and reads flow through the router,
/// as every service sends them: nothing acknowledged is lost or doubled, no read of a known
/// account comes back "missing", balances equal what the acknowledged payments imply, and the
/// checker finds every cell and the legs between them whole.
/// </summary>
public sealed class PartitionMoveTests
{
    [Fact]
    public async Task Move_WhilePaymentsHoldsAndReadsFlow_NothingLostOrDoubled_NoFalseNotFound_BalancesAsAcknowledged()
    {
        await using var bank = await MovingBank.StartAsync(["a", "b"]);
        var load = await MoveLoad.PrepareAsync(bank);
        var reports = new ConcurrentQueue<PartitionMoveReport>();
        PartitionMoveResult? result = null;

        await load.RunAsync(async () => result = await bank.Mover().MoveAsync(load.Partition, "b", new SyncProgress<PartitionMoveReport>(reports.Enqueue)));
        var failures = await load.CheckAsync();

        Assert.Empty(failures);
        Assert.True(load.Model.Reads > 0);
        Assert.NotNull(result);
        Assert.False(result.AlreadyThere);
        Assert.Equal(("a", "b", 2L), (result.Source, result.Target, result.NewEpoch));
        Assert.Contains(reports, report => report.Step == "released");
        var map = (await bank.Placement.ReadAsync(CancellationToken.None))!.Map!;
        Assert.Equal(("b", 2L), (map.CellOf(load.Partition), map.EpochOf(load.Partition)));
        Assert.Equal((OwnershipState.Released, "b", 2L), (bank.Cell("a").Ownership[load.Partition].State, bank.Cell("a").Ownership[load.Partition].OwnerCell, bank.Cell("a").Ownership[load.Partition].OwnerEpoch));
        Assert.Equal((OwnershipState.Owned, 2L), (bank.Cell("b").Ownership[load.Partition].State, bank.Cell("b").Ownership[load.Partition].Epoch));
        // The old owner's copy was deleted after the flip.
        Assert.Empty(await bank.Cell("a").GetAccountsAsync(load.Moving));
        var report = await bank.StopAndCheckAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
        Assert.Equal(load.Customers.Count + 1, report.AccountCount);
    }

    /// <summary>
    /// The 2019 chain, survived: two cells added to a running bank and the partitions rebalanced
    /// over four cells while payments, holds and reads flow — half the partitions move — and the
    /// same checker as the broken variant below finds no false not-found, no lost or doubled
    /// payment, every balance as acknowledged, and every cell whole.
    /// </summary>
    [Fact]
    public async Task Chain2019_TwoCellsAddedAndRebalancedUnderLoad_NoFalseNotFoundNoLostWrite()
    {
        await using var bank = await MovingBank.StartAsync(["a", "b"]);
        var load = await MoveLoad.PrepareAsync(bank);
        IReadOnlyList<PartitionMoveResult> moved = [];

        await load.RunAsync(async () =>
        {
            await bank.AddCellAsync("c");
            await bank.AddCellAsync("d");
            var map = (await bank.Placement.ReadAsync(CancellationToken.None))!.Map!;
            moved = await CellRebalancer.RunAsync(bank.Mover(new PartitionMoveOptions { DropCopy = false }), CellRebalancer.Plan(map), TimeSpan.Zero);
        });
        var failures = await load.CheckAsync();

        Assert.Empty(failures);
        Assert.Equal(MovingBank.Partitions / 2, moved.Count);
        var after = (await bank.Placement.ReadAsync(CancellationToken.None))!.Map!;
        Assert.All(after.Cells.Keys, cell => Assert.Equal(MovingBank.Partitions / 4, after.PartitionsOf(cell).Count));
        Assert.Empty(CellRebalancer.Plan(after));
        var report = await bank.StopAndCheckAsync(after.Cells.Keys);
        Assert.True(report.Ok, string.Join("\n", report.Problems));
        Assert.Equal(4, report.CellCount);
    }

    /// <summary>
    /// The 2019 failure, assembled on purpose: a mover that flips the map before copying anything,
    /// and a target whose verification guard is fooled by a forged digest (the digest of its own
    /// empty copy, sent as the source's). The guard is bypassed, so what must catch it is the
    /// checker: false not-founds and payments that no longer add up. A checker that passes this is
    /// not a checker.
    /// </summary>
    [Fact]
    public async Task BrokenMove_FlipBeforeCopyWithAForgedVerification_TheCheckerReportsFalseNotFoundsAndLostMoney()
    {
        await using var bank = await MovingBank.StartAsync(["a", "b"]);
        var load = await MoveLoad.PrepareAsync(bank);

        await load.RunAsync(() => BrokenMoveAsync(bank, load.Partition, "a", "b"));
        var failures = await load.CheckAsync();

        Assert.Contains(failures, failure => failure.StartsWith("false not-found", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.StartsWith("balance", StringComparison.Ordinal) || failure.StartsWith("missing account", StringComparison.Ordinal));
    }

    /// <summary>
    /// Bad input to the move contract is refused naming what is wrong, and writes nothing: a copy
    /// sent rows of another partition, a chunk that does not follow the copy's watermark, an
    /// own without a verified copy, a partition out of range.
    /// </summary>
    [Fact]
    public async Task MoveContract_BadInput_RefusedNamingWhyAndNothingWritten()
    {
        await using var bank = await MovingBank.StartAsync(["a", "b"]);
        var partition = bank.Map.PartitionsOf("a")[0];
        var other = bank.AccountsIn("a").First(id => LedgerPartitioner.PartitionOf(id, MovingBank.Partitions) != partition);
        var target = bank.Admin("b");
        var headers = MovingBank.CellHeader("b");
        await target.BeginImportAsync(new BeginImportRequest { Partition = (uint)partition, SourceCell = "a", SourceEpoch = 1 }, headers);

        var foreign = new PartitionRows { Partition = (uint)partition, Cell = "a", Epoch = 1, Watermark = 1 };
        foreign.Transfers.Add(new Transfer { Id = ((UInt128)7).ToProto(), DebitAccountId = other.ToProto(), CreditAccountId = other.ToProto(), Amount = 1, Currency = "GBP", Sequence = 1 });
        var wrongPartition = await Assert.ThrowsAsync<RpcException>(async () =>
            await target.ImportPartitionAsync(new ImportPartitionRequest { Rows = foreign, ExpectedWatermark = 0 }, headers));
        Assert.Equal(StatusCode.FailedPrecondition, wrongPartition.StatusCode);
        Assert.Contains($"is not in partition {partition}", wrongPartition.Status.Detail, StringComparison.Ordinal);

        var stale = await Assert.ThrowsAsync<RpcException>(async () =>
            await target.ImportPartitionAsync(new ImportPartitionRequest { Rows = new PartitionRows { Partition = (uint)partition, Cell = "a", Epoch = 1 }, ExpectedWatermark = 42 }, headers));
        Assert.Contains("read the import progress and export again", stale.Status.Detail, StringComparison.Ordinal);

        var unverified = await Assert.ThrowsAsync<RpcException>(async () =>
            await target.OwnPartitionAsync(new OwnPartitionRequest { Partition = (uint)partition, SourceCell = "a", SourceEpoch = 1 }, headers));
        Assert.Contains("holds no verified copy", unverified.Status.Detail, StringComparison.Ordinal);

        var outOfRange = await Assert.ThrowsAsync<RpcException>(async () =>
            await target.GetImportProgressAsync(new PartitionRequest { Partition = 999 }, headers));
        Assert.Equal(StatusCode.InvalidArgument, outOfRange.StatusCode);

        var progress = await target.GetImportProgressAsync(new PartitionRequest { Partition = (uint)partition }, headers);
        Assert.Equal(0, progress.Watermark);
        Assert.Equal(OwnershipState.None, bank.Cell("b").Ownership[partition].State);
        Assert.Empty(await bank.Cell("b").GetTransfersAsync([(UInt128)7], bank.Cell("b").Ownership));
    }

    /// <summary>The broken mover: assembled only here, from the move contract's own steps, in the wrong order and with a lie.</summary>
    private static async Task BrokenMoveAsync(MovingBank bank, int partition, string source, string target)
    {
        var admin = bank.Admin(target);
        var headers = MovingBank.CellHeader(target);
        await admin.BeginImportAsync(new BeginImportRequest { Partition = (uint)partition, SourceCell = source, SourceEpoch = 1 }, headers);
        var emptyCopy = await admin.DigestPartitionAsync(new PartitionRequest { Partition = (uint)partition }, headers);
        await admin.VerifyImportAsync(new VerifyImportRequest { Partition = (uint)partition, SourceCell = source, SourceEpoch = 1, SourceDigest = emptyCopy }, headers);
        await admin.OwnPartitionAsync(new OwnPartitionRequest { Partition = (uint)partition, SourceCell = source, SourceEpoch = 1 }, headers);
        var read = (await bank.Placement.ReadAsync(CancellationToken.None))!;
        Assert.True((await bank.Placement.ReplaceAsync(read, read.Map!.WithMove(partition, target), CancellationToken.None)).Succeeded);
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
