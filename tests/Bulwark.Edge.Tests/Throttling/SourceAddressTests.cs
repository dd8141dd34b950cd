using System.Net;
using Bulwark.Edge.Throttling;

namespace Bulwark.Edge.Tests.Throttling;

public sealed class SourceAddressTests
{
    [Theory]
    [InlineData("192.0.2.7", "192.0.2.7")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    public void Key_Address_IPv4AsIsIPv6ByPrefix(string address, string expected)
    {
        Assert.Equal(expected, SourceAddress.Key(IPAddress.Parse(address)));
    }

    [Fact]
    public void Key_NoAddress_Unknown()
    {
        Assert.Equal("unknown", SourceAddress.Key(null));
    }
}
