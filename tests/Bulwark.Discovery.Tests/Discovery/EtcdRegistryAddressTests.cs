using Bulwark.Discovery.Etcd;

namespace Bulwark.Discovery.Tests.Discovery;

public sealed class EtcdRegistryAddressTests
{
    [Fact]
    public void Parse_SeveralMembers_AllReturned()
    {
        var endpoints = EtcdRegistryAddress.Parse("etcd://127.0.0.1:2379, localhost:2479");

        Assert.Equal([new Uri("http://127.0.0.1:2379"), new Uri("http://localhost:2479")], endpoints);
    }

    [Theory]
    [InlineData("")]
    [InlineData("http://127.0.0.1:2379")]
    [InlineData("etcd://")]
    [InlineData("etcd://127.0.0.1")]
    [InlineData("etcd://127.0.0.1:0")]
    [InlineData("etcd://127.0.0.1:99999")]
    [InlineData("etcd://127.0.0.1:2379,")]
    [InlineData("etcd://host:port")]
    [InlineData("etcd://127.0.0.1:2379/path")]
    public void Parse_Malformed_FormatExceptionShowingTheExpectedForm(string address)
    {
        var error = Assert.Throws<FormatException>(() => EtcdRegistryAddress.Parse(address));

        Assert.Contains(address.Length == 0 ? "etcd://" : "'", error.Message, StringComparison.Ordinal);
    }
}
