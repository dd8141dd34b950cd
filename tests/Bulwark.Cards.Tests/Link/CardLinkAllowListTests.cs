using System.Net;
using Bulwark.Platform.Security;

namespace Bulwark.Cards.Tests.Link;

public sealed class CardLinkAllowListTests
{
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.9.9.9", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.20.3.4", true)]
    [InlineData("10.21.0.1", false)]
    [InlineData("192.0.2.1", false)]
    [InlineData("2001:db8::1", false)]
    public void Allows_DefaultsPlusOneSchemeBlock_OnlyListedSources(string address, bool expected)
    {
        var allowList = new SourceNetworks([.. new CardsOptions().LinkAllowedSources, "10.20.0.0/16"]);

        Assert.Equal(expected, allowList.Allows(new IPEndPoint(IPAddress.Parse(address), 40000)));
    }

    [Fact]
    public void Allows_SingleAddress_IsThatAddressOnly()
    {
        var allowList = new SourceNetworks(["203.0.113.7"]);

        Assert.True(allowList.Allows(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 1)));
        Assert.False(allowList.Allows(new IPEndPoint(IPAddress.Parse("203.0.113.8"), 1)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("scheme.example")]
    [InlineData("10.20.0.0/33")]
    [InlineData("10.20.0.1/16")]
    public void Validate_UnusableAllowedSource_Throws(string source)
    {
        var options = new CardsOptions { JournalPath = "j.db", SettlementLedgerAccountId = "1", LinkAllowedSources = [source] };

        Assert.Throws<ArgumentException>(options.Validate);
    }

    [Fact]
    public void Validate_EmptyAllowList_Throws()
    {
        var options = new CardsOptions { JournalPath = "j.db", SettlementLedgerAccountId = "1", LinkAllowedSources = [] };

        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("LinkAllowedSources", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Defaults_AllowLoopbackAndPass()
    {
        var options = new CardsOptions { JournalPath = "j.db", SettlementLedgerAccountId = "1" };

        options.Validate();
        Assert.Equal(["127.0.0.0/8", "::1/128"], options.LinkAllowedSources);
    }
}
