using Bulwark.Platform.Placement;

namespace Bulwark.Platform.Tests.Placement;

public sealed class PlacementMapTests
{
    [Fact]
    public void CreateInitial_SpreadsContiguousRanges_EpochOneVersionOne()
    {
        var map = PlacementMap.CreateInitial("bank-1", 10, ["a", "b", "c"]);

        Assert.Equal(1, map.Version);
        Assert.Equal(PlacementMap.FormatVersionCurrent, map.FormatVersion);
        Assert.Equal(10, map.PartitionCount);
        Assert.Equal([0, 1, 2, 3], map.PartitionsOf("a"));
        Assert.Equal([4, 5, 6], map.PartitionsOf("b"));
        Assert.Equal([7, 8, 9], map.PartitionsOf("c"));
        Assert.All(Enumerable.Range(0, 10), partition => Assert.Equal(1, map.EpochOf(partition)));
        Assert.Empty(map.PartitionsOf("nobody"));
    }

    [Fact]
    public void WithMove_RaisesEpochAndVersion_LeavesOthersAlone()
    {
        var map = PlacementMap.CreateInitial("bank-1", 4, ["a", "b"]);

        var moved = map.WithMove(1, "b");

        Assert.Equal(2, moved.Version);
        Assert.Equal("b", moved.CellOf(1));
        Assert.Equal(2, moved.EpochOf(1));
        Assert.Equal(1, moved.EpochOf(0));
        Assert.Equal("a", map.CellOf(1));
        Assert.Throws<ArgumentException>(() => moved.WithMove(1, "b"));
        Assert.Throws<ArgumentException>(() => moved.WithMove(1, "zz"));
        Assert.Throws<ArgumentOutOfRangeException>(() => moved.CellOf(4));
    }

    [Fact]
    public void WithCell_AddsAnEmptyCell()
    {
        var map = PlacementMap.CreateInitial("bank-1", 4, ["a"]).WithCell("b", new CellInfo("postgres://ledger@db-b/ledger"));

        Assert.Equal(2, map.Version);
        Assert.Empty(map.PartitionsOf("b"));
        Assert.Equal("postgres://ledger@db-b/ledger", map.Cells["b"].Store);
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("cell-1", true)]
    [InlineData("", false)]
    [InlineData("A", false)]
    [InlineData("-a", false)]
    [InlineData("a-", false)]
    [InlineData("a_b", false)]
    [InlineData("a.b", false)]
    [InlineData("abcdefghijabcdefghijabcdefghijab", true)]
    [InlineData("abcdefghijabcdefghijabcdefghijabc", false)]
    public void IsValidCellName_LowercaseDigitsDash_UpTo32(string name, bool valid) =>
        Assert.Equal(valid, PlacementMap.IsValidCellName(name));

    [Fact]
    public void Constructor_UnknownCellOrEpochZero_RefusedNamingTheField()
    {
        var cells = new Dictionary<string, CellInfo> { ["a"] = new() };

        var unknown = Assert.Throws<PlacementMapException>(() => new PlacementMap(1, "bank", 1, cells, [new("a", 1), new("b", 1)]));
        var epoch = Assert.Throws<PlacementMapException>(() => new PlacementMap(1, "bank", 1, cells, [new("a", 1), new("a", 0)]));

        Assert.Equal("partitions[1].cell", unknown.Field);
        Assert.Equal("partitions[1].epoch", epoch.Field);
    }
}
