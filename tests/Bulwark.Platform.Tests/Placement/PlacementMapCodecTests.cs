using System.Text;
using Bulwark.Platform.Placement;

namespace Bulwark.Platform.Tests.Placement;

public sealed class PlacementMapCodecTests
{
    private const string Good = """
        { "formatVersion": 1, "clusterId": "bank-1", "version": 3, "partitionCount": 4,
          "cells": { "a": { "store": "/data/ledger/cells/a.db" }, "b": {} },
          "partitions": [ { "first": 0, "last": 1, "cell": "a", "epoch": 1 }, { "first": 2, "last": 3, "cell": "b", "epoch": 2 } ] }
        """;

    [Fact]
    public void EncodeDecode_RoundTrips_RunsWrittenAsRanges()
    {
        var map = PlacementMap.CreateInitial("bank-1", 256, ["a", "b"], new Dictionary<string, CellInfo> { ["a"] = new("postgres://ledger@db-a/ledger") })
            .WithMove(7, "b");

        var bytes = PlacementMapCodec.Encode(map);
        var decoded = PlacementMapCodec.Decode(bytes);

        Assert.Equal(map.Version, decoded.Version);
        Assert.Equal(map.ClusterId, decoded.ClusterId);
        Assert.Equal(map.Partitions, decoded.Partitions);
        Assert.Equal("postgres://ledger@db-a/ledger", decoded.Cells["a"].Store);
        Assert.Null(decoded.Cells["b"].Store);
        Assert.True(bytes.Length < 2048, $"{bytes.Length} bytes for four ranges");
    }

    [Fact]
    public void Decode_Good_ReadsEveryField()
    {
        var map = PlacementMapCodec.Decode(Encoding.UTF8.GetBytes(Good));

        Assert.Equal(3, map.Version);
        Assert.Equal("b", map.CellOf(3));
        Assert.Equal(2, map.EpochOf(2));
        Assert.Equal("/data/ledger/cells/a.db", map.Cells["a"].Store);
    }

    [Theory]
    [InlineData("\"version\": 3,", "\"version\": 3, \"version\": 4,", PlacementMapUnusableReason.Malformed, "version")]
    [InlineData("\"b\": {}", "\"b\": {}, \"b\": {}", PlacementMapUnusableReason.Malformed, "cells.b")]
    [InlineData("\"epoch\": 1 }", "\"epoch\": 1, \"epoch\": 2 }", PlacementMapUnusableReason.Malformed, "partitions[0].epoch")]
    [InlineData("\"formatVersion\": 1", "\"formatVersion\": 2", PlacementMapUnusableReason.NewerFormat, "formatVersion")]
    [InlineData("\"version\": 3,", "\"version\": 3, \"owner\": 1,", PlacementMapUnusableReason.Malformed, "owner")]
    [InlineData("\"version\": 3,", "\"version\": \"3\",", PlacementMapUnusableReason.Malformed, "version")]
    [InlineData("\"first\": 2, \"last\": 3", "\"first\": 3, \"last\": 3", PlacementMapUnusableReason.Invalid, "partitions[1].first")]
    [InlineData("\"first\": 2, \"last\": 3", "\"first\": 1, \"last\": 3", PlacementMapUnusableReason.Invalid, "partitions[1].first")]
    [InlineData("\"first\": 2, \"last\": 3", "\"first\": 2, \"last\": 2", PlacementMapUnusableReason.Invalid, "partitions")]
    [InlineData("\"first\": 2, \"last\": 3", "\"first\": 2, \"last\": 4", PlacementMapUnusableReason.Invalid, "partitions[1].last")]
    [InlineData("\"cell\": \"b\"", "\"cell\": \"c\"", PlacementMapUnusableReason.Invalid, "partitions[1].cell")]
    [InlineData("\"epoch\": 2", "\"epoch\": 0", PlacementMapUnusableReason.Invalid, "partitions[1].epoch")]
    [InlineData("\"b\": {}", "\"B\": {}", PlacementMapUnusableReason.Invalid, "cells.B")]
    [InlineData("\"clusterId\": \"bank-1\",", "", PlacementMapUnusableReason.Malformed, "clusterId")]
    public void Decode_Damaged_RefusedNamingTheField(string find, string replace, PlacementMapUnusableReason reason, string field)
    {
        Assert.Contains(find, Good, StringComparison.Ordinal);
        var damaged = Good.Replace(find, replace, StringComparison.Ordinal);

        var error = Assert.Throws<PlacementMapException>(() => PlacementMapCodec.Decode(Encoding.UTF8.GetBytes(damaged)));

        Assert.Equal(reason, error.Reason);
        Assert.Equal(field, error.Field);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_NewerFormatWithUnknownFields_SaysNewerNotMalformed()
    {
        var newer = """{ "formatVersion": 2, "shards": [], "somethingElse": true }""";

        var error = Assert.Throws<PlacementMapException>(() => PlacementMapCodec.Decode(Encoding.UTF8.GetBytes(newer)));

        Assert.Equal(PlacementMapUnusableReason.NewerFormat, error.Reason);
        Assert.Contains("newer Bulwark", error.Message, StringComparison.Ordinal);
        Assert.Contains("keep the last good map", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("{\"formatVersion\": 1")]
    public void Decode_NotAMapAtAll_Malformed(string text)
    {
        var error = Assert.Throws<PlacementMapException>(() => PlacementMapCodec.Decode(Encoding.UTF8.GetBytes(text)));

        Assert.Equal(PlacementMapUnusableReason.Malformed, error.Reason);
    }
}
