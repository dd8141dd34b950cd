using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// A move killed at every step — the mover dies without cleaning up, and the cells restart — is
/// finished by running it again: the partition ends at the target, every payment once, the
/// checker finds every cell whole. A mover that dies while the source is paused leaves a pause
/// that ends by itself (its lease), after which the source serves the partition again.
/// </summary>
public sealed class PartitionMoveResumeTests
{
    public static TheoryData<string, bool> Steps => new()
    {
        { "copy", false },
        { "pause", true },
        { "verify", false },
        { "release", true },
        { "released", false },
        { "own", true },
        { "flip", false },
        { "grace", true },
    };

    [Theory]
    [MemberData(nameof(Steps))]
    public async Task MoverKilledAtStep_RunAgain_FinishesTheMoveWithNothingLostOrDoubled(string step, bool restartCells)
    {
        await using var bank = await MovingBank.StartAsync(["a", "b"]);
        var load = await MoveLoad.PrepareAsync(bank);
        await load.RunAsync(() => Task.CompletedTask);
        var options = new PartitionMoveOptions { Grace = TimeSpan.Zero, PauseLeaseMilliseconds = 60_000 };

        var killed = await Assert.ThrowsAsync<MoverKilledException>(() =>
            bank.Mover(options).MoveAsync(load.Partition, "b", new KillAt(step)));
        Assert.Equal(step, killed.Message);
        if (restartCells)
        {
            await bank.RestartAsync();
        }
        var result = await bank.Mover(options).MoveAsync(load.Partition, "b");

        Assert.Equal(("b", 2L), (result.Target, result.NewEpoch));
        var map = (await bank.Placement.ReadAsync(CancellationToken.None))!.Map!;
        Assert.Equal(("b", 2L), (map.CellOf(load.Partition), map.EpochOf(load.Partition)));
        Assert.Empty(await load.CheckAsync());
        Assert.Equal(OwnershipState.Owned, bank.Cell("b").Ownership[load.Partition].State);
        Assert.Equal(OwnershipState.Released, bank.Cell("a").Ownership[load.Partition].State);
        var report = await bank.StopAndCheckAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
    }

    [Fact]
    public async Task MoverKilledWhileTheSourceIsPaused_ThePauseEndsByItself_AndTheSourceServesAgain()
    {
        await using var bank = await MovingBank.StartAsync(["a", "b"]);
        var load = await MoveLoad.PrepareAsync(bank);
        var options = new PartitionMoveOptions { Grace = TimeSpan.Zero, PauseLeaseMilliseconds = 300 };

        await Assert.ThrowsAsync<MoverKilledException>(() => bank.Mover(options).MoveAsync(load.Partition, "b", new KillAt("verify")));
        Assert.Equal(OwnershipState.Moving, bank.Cell("a").Ownership[load.Partition].State);
        await Task.Delay(400);
        // The writer notices the lease at its next turn: a payment from a moving account is that turn, and it goes through.
        var paid = await bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { new Transfer { Id = Uint128.InNamespace(IdNamespace.Bank, 9_999_999).ToProto(), DebitAccountId = load.Moving[0].ToProto(), CreditAccountId = load.Moving[1].ToProto(), Amount = 5, Currency = "GBP", Code = 2 } },
        });

        Assert.Equal(TransferStatus.Ok, paid.Results[0].Status);
        Assert.Equal(OwnershipState.Owned, bank.Cell("a").Ownership[load.Partition].State);
        var map = (await bank.Placement.ReadAsync(CancellationToken.None))!.Map!;
        Assert.Equal(("a", 1L), (map.CellOf(load.Partition), map.EpochOf(load.Partition)));
        // Run again, the move finishes from the copy it had.
        var result = await bank.Mover(options with { PauseLeaseMilliseconds = 60_000 }).MoveAsync(load.Partition, "b");
        Assert.Equal("b", result.Target);
        var report = await bank.StopAndCheckAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
    }

    /// <summary>A mover that dies at a step: nothing after it runs, not even its own clean-up (a cancellation is not cleaned up after).</summary>
    private sealed class KillAt(string step) : IProgress<PartitionMoveReport>
    {
        public void Report(PartitionMoveReport value)
        {
            if (value.Step == step)
            {
                throw new MoverKilledException(step);
            }
        }
    }

    private sealed class MoverKilledException(string step) : OperationCanceledException(step);
}
