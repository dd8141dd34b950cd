using Bulwark.Config.Protos;
using Bulwark.Ledger.Tests.Support;

namespace Bulwark.Config.Tests.Watch;

/// <summary>
/// Two instances of the service on one PostgreSQL database, as a cluster runs them: a change
/// committed through one reaches the watchers of the other (its revision poller), and both see
/// one revision sequence.
/// </summary>
public sealed class ClusterWatchTests
{
    [Fact]
    public async Task Watch_AChangeMadeThroughAnotherInstance_ReachesTheWatcher()
    {
        var database = PostgresTestServer.NewDatabase("config_cluster");
        await using var first = await ConfigTestHost.StartAsync(database);
        await using var second = await ConfigTestHost.StartAsync(database);
        var before = (await first.Client.PutAsync(new PutRequest { Key = "edge/allow", Value = "[]", Reason = "start" })).Entry;

        using var watch = new WatchStream(first.Client, new WatchRequest { Prefix = "edge/", FromRevision = before.Version });
        var elsewhere = (await second.Client.PutAsync(new PutRequest { Key = "edge/allow", Value = "[\"10.0.0.0/8\"]", ExpectedVersion = before.Version, Reason = "through the second" })).Entry;
        var seen = await watch.NextChangeAsync();

        Assert.Equal(WatchEventKind.Change, seen.Kind);
        Assert.Equal(elsewhere, seen.Entry);
        Assert.Equal(before.Version + 1, elsewhere.Version);
        Assert.Equal(elsewhere, (await first.Client.GetAsync(new GetRequest { Key = "edge/allow" })).Entry);
    }
}
