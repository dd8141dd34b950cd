using System.Net;
using Bulwark.CardNetwork.Link;
using static Bulwark.CardNetwork.Tests.TestSupport;

namespace Bulwark.CardNetwork.Tests.Link;

public sealed class SchemeLinkPoolTests
{
    private static readonly IReadOnlyList<string> Pans = [.. Cards(300).Select(card => card.PrimaryAccountNumber)];

    [Fact]
    public async Task Choose_BothUp_EveryCardOnOneLinkWhateverTheListOrder_CardsSpreadOverBoth()
    {
        await using var a = new FakeIssuer();
        await using var b = new FakeIssuer();
        await using var forward = await UpPoolAsync(a, b);
        await using var backward = await UpPoolAsync(b, a);

        var chosen = Pans.Select(pan => forward.Choose(pan)!.Name).ToList();

        Assert.Equal(chosen, Pans.Select(pan => forward.Choose(pan)!.Name));
        Assert.Equal(chosen, Pans.Select(pan => backward.Choose(pan)!.Name));
        Assert.InRange(chosen.Count(name => name == IssuerLinkAddresses.Format(a.EndPoint)), Pans.Count / 4, Pans.Count * 3 / 4);
    }

    [Fact]
    public async Task Update_LinkRemoved_OnlyItsCardsMove_AndComeBackWhenItReturns()
    {
        await using var a = new FakeIssuer();
        await using var b = new FakeIssuer();
        await using var c = new FakeIssuer();
        await using var pool = await UpPoolAsync(a, b, c);
        var before = Pans.ToDictionary(pan => pan, pan => pool.Choose(pan)!.Name);
        var nameB = IssuerLinkAddresses.Format(b.EndPoint);

        var (added, removed) = pool.Update([a.EndPoint, c.EndPoint]);

        Assert.Empty(added);
        Assert.Equal([nameB], removed);
        foreach (var pan in Pans)
        {
            var now = pool.Choose(pan)!.Name;
            Assert.NotEqual(nameB, now);
            if (before[pan] != nameB)
            {
                Assert.Equal(before[pan], now);
            }
        }

        pool.Update([a.EndPoint, b.EndPoint, c.EndPoint]);
        Assert.True(await EventuallyAsync(() => pool.UpCount == 3));
        Assert.All(Pans, pan => Assert.Equal(before[pan], pool.Choose(pan)!.Name));
        Assert.True(await EventuallyAsync(() => pool.GetSummaries().Any(summary => summary.Removed)));
        var removedSummary = Assert.Single(pool.GetSummaries(), summary => summary.Removed);
        Assert.Equal(nameB, removedSummary.Name);
        Assert.Equal(1, removedSummary.Ups);
        Assert.Equal(1, removedSummary.Downs);
    }

    [Fact]
    public async Task Choose_NoLinkUp_ReturnsNull()
    {
        await using var pool = new SchemeLinkPool(endPoint => LinkOptions(endPoint));
        Assert.Null(pool.Choose(Pans[0]));

        // Listed but refusing: known, never up.
        pool.Update([new IPEndPoint(IPAddress.Loopback, FreePort())]);

        Assert.Equal(1, pool.Count);
        await Task.Delay(100);
        Assert.Null(pool.Choose(Pans[0]));
        Assert.Null(pool.Route("127.0.0.1:1", Pans[0]));
        Assert.True(pool.GetSummaries()[0].Statistics.ConnectFailures > 0);
    }

    private static async Task<SchemeLinkPool> UpPoolAsync(params FakeIssuer[] issuers)
    {
        var pool = new SchemeLinkPool(endPoint => LinkOptions(endPoint));
        pool.Update([.. issuers.Select(issuer => (EndPoint)issuer.EndPoint)]);
        Assert.True(await EventuallyAsync(() => pool.UpCount == issuers.Length));
        return pool;
    }
}
