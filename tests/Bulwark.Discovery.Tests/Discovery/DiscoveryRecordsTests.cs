using System.Text;
using Bulwark.Discovery.Etcd.Discovery;

namespace Bulwark.Discovery.Tests.Discovery;

public sealed class DiscoveryRecordsTests
{
    [Theory]
    [InlineData("", SkipReason.Empty)]
    [InlineData("   ", SkipReason.Empty)]
    [InlineData("null", SkipReason.Null)]
    [InlineData("{not json", SkipReason.Malformed)]
    [InlineData("[]", SkipReason.Malformed)]
    [InlineData("42", SkipReason.Malformed)]
    [InlineData("{}", SkipReason.MissingAddress)]
    [InlineData("{\"address\":null}", SkipReason.MissingAddress)]
    [InlineData("{\"address\":\"\"}", SkipReason.MissingAddress)]
    [InlineData("{\"address\":\"no-port\"}", SkipReason.BadAddress)]
    [InlineData("{\"address\":\"host:0\"}", SkipReason.BadAddress)]
    [InlineData("{\"address\":\"host:70000\"}", SkipReason.BadAddress)]
    [InlineData("{\"address\":\":5000\"}", SkipReason.BadAddress)]
    [InlineData("{\"address\":5000}", SkipReason.Malformed)]
    public void TryParseInstance_BadRecord_SkippedWithReasonNeverThrows(string value, SkipReason expected)
    {
        var parsed = DiscoveryRecords.TryParseInstance("beta", "beta-1", Encoding.UTF8.GetBytes(value), out _, out var reason);

        Assert.False(parsed);
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void TryParseInstance_InvalidUtf8_Skipped()
    {
        var parsed = DiscoveryRecords.TryParseInstance("beta", "beta-1", [0xff, 0xfe, 0x00], out _, out var reason);

        Assert.False(parsed);
        Assert.Equal(SkipReason.Malformed, reason);
    }

    [Fact]
    public void TryParseInstance_UnknownFieldsAndMissingVersion_Accepted()
    {
        var value = "{\"address\":\"127.0.0.1:5000\",\"zone\":\"a\",\"future\":{\"x\":1}}"u8;

        var parsed = DiscoveryRecords.TryParseInstance("beta", "beta-1", value, out var instance, out _);

        Assert.True(parsed);
        Assert.Equal("127.0.0.1:5000", instance.Address);
        Assert.Equal("unknown", instance.Version);
    }

    [Fact]
    public void Serialize_ThenParse_RoundTrips()
    {
        var bytes = DiscoveryRecords.Serialize(new InstanceRecord("[::1]:7000", "2.1", DateTimeOffset.UnixEpoch));

        Assert.True(DiscoveryRecords.TryParseInstance("beta", "beta-1", bytes, out var instance, out _));
        Assert.Equal(("[::1]:7000", "2.1"), (instance.Address, instance.Version));
    }

    [Theory]
    [InlineData("null", SkipReason.Null)]
    [InlineData("{}", SkipReason.BadReplicas)]
    [InlineData("{\"replicas\":-1}", SkipReason.BadReplicas)]
    [InlineData("{\"replicas\":\"three\"}", SkipReason.Malformed)]
    [InlineData("", SkipReason.Empty)]
    public void TryParseDeployment_BadRecord_Skipped(string value, SkipReason expected)
    {
        Assert.False(DiscoveryRecords.TryParseDeployment(Encoding.UTF8.GetBytes(value), out _, out var reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void TryParseDeployment_Zero_Parsed()
    {
        Assert.True(DiscoveryRecords.TryParseDeployment("{\"replicas\":0,\"version\":\"3\"}"u8, out var deployment, out _));
        Assert.Equal(0, deployment.Replicas);
    }
}
