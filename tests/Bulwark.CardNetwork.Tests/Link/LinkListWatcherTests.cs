using System.Net;
using Bulwark.CardNetwork.Link;
using Microsoft.Extensions.Logging.Abstractions;
using static Bulwark.CardNetwork.Tests.TestSupport;

namespace Bulwark.CardNetwork.Tests.Link;

public sealed class LinkListWatcherTests
{
    [Fact]
    public async Task Refresh_ListsInTurn_AppliesReadableOnes_CountsWhatItSkipped()
    {
        var first = new IPEndPoint(IPAddress.Loopback, FreePort());
        var second = new IPEndPoint(IPAddress.Loopback, FreePort());
        var source = new ScriptedSource(
            new IssuerLinkList([first], ["line 2: 'x' is not host:port"]),
            new IssuerLinkList(null, [], "links does not exist"),
            new IssuerLinkList([first, second], []),
            new IssuerLinkList([], []));
        await using var pool = new SchemeLinkPool(endPoint => LinkOptions(endPoint));
        var watcher = new LinkListWatcher(source, pool, NullLogger.Instance);

        watcher.Refresh();
        Assert.Equal(1, pool.Count);
        Assert.Equal(1, watcher.MalformedLines);

        watcher.Refresh();
        Assert.Equal(1, pool.Count);   // unreadable: the links known stay
        Assert.Equal(1, watcher.ReadErrors);

        watcher.Refresh();
        Assert.Equal(2, pool.Count);

        watcher.Refresh();
        Assert.Equal(0, pool.Count);   // empty: no links
        Assert.Equal(1, watcher.MalformedLines);
        Assert.Equal(1, watcher.ReadErrors);
    }

    private sealed class ScriptedSource(params IssuerLinkList[] lists) : IIssuerLinkSource
    {
        private int _next;

        public IssuerLinkList Read() => lists[Math.Min(_next++, lists.Length - 1)];
    }
}
