using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Storage;
using Bulwark.Platform.Placement;

namespace Bulwark.Ledger.Tests.Cells;

/// <summary>
/// <see cref="PlacementConsistency"/> on a bank of four partitions: a owns 0 and 1, b owns 2 and 3,
/// all at epoch 1 (the initial map), with the cells' records changed one way at a time.
/// </summary>
public sealed class PlacementConsistencyTests
{
    private const string Bank = "bank-1";
    private static readonly PlacementMap Initial = PlacementMap.CreateInitial(Bank, 4, ["a", "b"]);

    private static PartitionOwnership Owned(int partition, long epoch = 1) => new(partition, epoch, OwnershipState.Owned, "", 0);

    private static LedgerCellRecord CellA(params PartitionOwnership[] rows) => new("a", Bank, rows);

    private static LedgerCellRecord CellB(params PartitionOwnership[] rows) => new("b", Bank, rows);

    private static PlacementConsistencyReport Check(PlacementMap map, LedgerCellRecord? a, LedgerCellRecord? b) =>
        PlacementConsistency.Check(map, new Dictionary<string, LedgerCellRecord?> { ["a"] = a, ["b"] = b });

    [Fact]
    public void Check_CellsAsTheMapSays_NoIssue()
    {
        Assert.Empty(Check(Initial, CellA(Owned(0), Owned(1)), CellB(Owned(2), Owned(3))).Issues);
    }

    [Fact]
    public void Check_ACellRecordedANewerEpochThanTheMap_RefusesNamingThePartitionAndBothEpochs()
    {
        var report = Check(Initial, CellA(Owned(0, epoch: 3), Owned(1)), CellB(Owned(2), Owned(3)));

        Assert.False(report.Ok);
        var issue = Assert.Single(report.Errors);
        Assert.Equal(0, issue.Partition);
        Assert.Contains("partition 0", issue.Message, StringComparison.Ordinal);
        Assert.Contains("at epoch 1", issue.Message, StringComparison.Ordinal);
        Assert.Contains("cell a has recorded epoch 3", issue.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_AnImportFromANewerEpochThanTheMap_Refuses()
    {
        var importing = CellB(Owned(2), Owned(3)) with { Imports = [new PartitionImportRecord(0, "a", 2, 0, ImportRecordState.Copying, [])] };

        var report = Check(Initial, CellA(Owned(0), Owned(1)), importing);

        Assert.Contains("cell b has recorded epoch 2", Assert.Single(report.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_APartitionOwnedByTwoCells_Refuses()
    {
        var report = Check(Initial, CellA(Owned(0), Owned(1)), CellB(Owned(0), Owned(2), Owned(3)));

        Assert.False(report.Ok);
        var issue = Assert.Single(report.Errors);
        Assert.Contains("partition 0 is owned by two cells: a (epoch 1, Owned) and b (epoch 1, Owned)", issue.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_TheMapsCellHoldsNoOwnershipAndNobodyReleasedItThere_WarnsNamingIt()
    {
        var report = Check(Initial, CellA(Owned(0)), CellB(Owned(2), Owned(3)));

        Assert.True(report.Ok);
        var issue = Assert.Single(report.Warnings);
        Assert.Equal(1, issue.Partition);
        Assert.Contains("places it on cell a, which holds no ownership of it", issue.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_MidMove_PausedOrReleasedToTheMapsCell_NoIssue()
    {
        var paused = CellA(new PartitionOwnership(0, 1, OwnershipState.Moving, "b", 2), Owned(1));
        Assert.Empty(Check(Initial, paused, CellB(Owned(2), Owned(3))).Issues);

        // Flipped to b before b recorded its ownership: b is the one the source released it to.
        var flipped = Initial.WithMove(0, "b");
        var released = CellA(new PartitionOwnership(0, 1, OwnershipState.Released, "b", 2), Owned(1));
        Assert.Empty(Check(flipped, released, CellB(Owned(2), Owned(3))).Issues);
    }

    [Fact]
    public void Check_ReleasedAndOwnedButTheMapNotFlippedYet_WarnsThatTheMoveIsUnfinished()
    {
        var report = Check(Initial, CellA(new PartitionOwnership(0, 1, OwnershipState.Released, "b", 2), Owned(1)), CellB(Owned(0, epoch: 2), Owned(2), Owned(3)));

        Assert.True(report.Ok);
        Assert.Contains("move whose map flip is left to do", Assert.Single(report.Warnings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_ACellOfAnotherBankOrNamedOtherwise_Refuses()
    {
        Assert.False(Check(Initial, new LedgerCellRecord("a", "another-bank", [Owned(0), Owned(1)]), CellB(Owned(2), Owned(3))).Ok);
        Assert.False(Check(Initial, CellA(Owned(0), Owned(1)), new LedgerCellRecord("c", Bank, [Owned(2), Owned(3)])).Ok);
    }

    [Fact]
    public void Check_ACellNotMadeACellYet_IsLeftOut()
    {
        Assert.Empty(Check(Initial, null, CellB(Owned(2), Owned(3))).Issues);
    }
}
