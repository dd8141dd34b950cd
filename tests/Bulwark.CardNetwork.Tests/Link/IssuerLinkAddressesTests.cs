using System.Net;
using Bulwark.CardNetwork.Link;

namespace Bulwark.CardNetwork.Tests.Link;

public sealed class IssuerLinkAddressesTests
{
    [Theory]
    [InlineData("127.0.0.1:7400", "127.0.0.1:7400")]
    [InlineData("  10.1.2.3:1  ", "10.1.2.3:1")]
    [InlineData("[::1]:7400", "[::1]:7400")]
    [InlineData("cards-0.bulwark.svc:7400", "cards-0.bulwark.svc:7400")]
    [InlineData("LocalHost:65535", "localhost:65535")]
    public void TryParse_GoodAddress_ParsesAndFormatsCanonically(string text, string expected)
    {
        Assert.True(IssuerLinkAddresses.TryParse(text, out var endPoint, out var error), error);
        Assert.Equal(expected, IssuerLinkAddresses.Format(endPoint!));
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData(":7400")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:port")]
    [InlineData("127.0.0.1:-1")]
    [InlineData("999.1.1.1:7400")]
    [InlineData("1.2.3:7400")]
    [InlineData("::1:7400")]
    [InlineData("bad host:7400")]
    [InlineData("host_name!:7400")]
    public void TryParse_BadAddress_FailsWithReason(string text)
    {
        Assert.False(IssuerLinkAddresses.TryParse(text, out var endPoint, out var error));
        Assert.Null(endPoint);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void TryParseList_CommaSeparated_KeepsOrder()
    {
        Assert.True(IssuerLinkAddresses.TryParseList("127.0.0.1:1, 127.0.0.1:2", out var endPoints, out _));
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2)], endPoints.Cast<IPEndPoint>());
    }

    [Theory]
    [InlineData("127.0.0.1:1,")]
    [InlineData("127.0.0.1:1,nonsense")]
    public void TryParseList_OneBadEntry_Fails(string text)
    {
        Assert.False(IssuerLinkAddresses.TryParseList(text, out _, out var error));
        Assert.NotNull(error);
    }
}
