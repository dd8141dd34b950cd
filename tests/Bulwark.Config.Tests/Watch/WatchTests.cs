using Bulwark.Config.Protos;
using Bulwark.Config.Telemetry;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Config.Tests.Watch;

/// <summary>The watch stream over real gRPC: resume, resynchronisation, progress, prefixes, and the watchers it ends.</summary>
public sealed class WatchTests
{
    private static async Task<Entry> SetAsync(ConfigTestHost host, string key, string value, long expected = 0) =>
        (await host.Client.PutAsync(new PutRequest { Key = key, Value = value, ExpectedVersion = expected, Reason = "test" })).Entry;

    [Fact]
    public async Task Watch_FromARevision_ReplaysLaterChangesInOrder_ThenFollowsNewOnes()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var a = await SetAsync(host, "app/a", "1");
        var b = await SetAsync(host, "app/b", "1");
        await SetAsync(host, "other/x", "1");
        var a2 = await SetAsync(host, "app/a", "2", a.Version);

        using var watch = new WatchStream(host.Client, new WatchRequest { Prefix = "app/", FromRevision = a.Version });
        var replayed = new[] { await watch.NextChangeAsync(), await watch.NextChangeAsync() };
        var deleted = (await host.Client.DeleteAsync(new DeleteRequest { Key = "app/b", ExpectedVersion = b.Version, Reason = "gone" })).Entry;
        await SetAsync(host, "other/y", "1");
        var followed = await watch.NextChangeAsync();

        Assert.All(replayed, e => Assert.Equal(WatchEventKind.Change, e.Kind));
        Assert.Equal([b.Version, a2.Version], replayed.Select(e => e.Entry.Version));
        Assert.Equal(deleted, followed.Entry);
        Assert.True(followed.Entry.Deleted);
        Assert.Equal(deleted.Version, followed.Revision);
    }

    [Fact]
    public async Task Watch_FromZero_StartsWithAResyncSnapshot_ThenChanges()
    {
        await using var host = await ConfigTestHost.StartAsync();
        await SetAsync(host, "app/a", "1");
        var b = await SetAsync(host, "app/b", "1");
        await host.Client.DeleteAsync(new DeleteRequest { Key = "app/b", ExpectedVersion = b.Version, Reason = "gone" });
        await SetAsync(host, "zzz", "1");

        using var watch = new WatchStream(host.Client, new WatchRequest { Prefix = "app/" });
        var resync = await watch.NextChangeAsync();
        var c = await SetAsync(host, "app/c", "1");
        var change = await watch.NextChangeAsync();

        Assert.Equal(WatchEventKind.Resync, resync.Kind);
        Assert.False(resync.More);
        Assert.Equal(4, resync.Revision);
        Assert.Equal(["app/a", "app/b"], resync.Snapshot.Select(e => e.Key));
        Assert.True(resync.Snapshot[1].Deleted);
        Assert.Equal(c, change.Entry);
    }

    [Fact]
    public async Task Watch_EmptyStoreFromZero_AnEmptySnapshotAtRevisionZero()
    {
        await using var host = await ConfigTestHost.StartAsync();

        using var watch = new WatchStream(host.Client, new WatchRequest());
        var resync = await watch.NextChangeAsync();

        Assert.Equal(WatchEventKind.Resync, resync.Kind);
        Assert.Equal(0, resync.Revision);
        Assert.Empty(resync.Snapshot);
        Assert.False(resync.More);
    }

    [Fact]
    public async Task Watch_FromARevisionCompactedAway_ResyncsThenFollows()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var a = await SetAsync(host, "a", "1");
        var a2 = await SetAsync(host, "a", "2", a.Version);
        await SetAsync(host, "b", "1");
        await host.Client.CompactAsync(new CompactRequest { Revision = 3 });

        using var watch = new WatchStream(host.Client, new WatchRequest { FromRevision = a.Version });
        var resync = await watch.NextChangeAsync();
        var a3 = await SetAsync(host, "a", "3", a2.Version);
        var change = await watch.NextChangeAsync();

        Assert.Equal(WatchEventKind.Resync, resync.Kind);
        Assert.Equal(3, resync.Revision);
        Assert.Equal(["a=2", "b=1"], resync.Snapshot.Select(e => e.Key + "=" + e.Value));
        Assert.Equal(a3, change.Entry);
    }

    [Fact]
    public async Task Watch_FromTheCompactedRevision_ResumesWithoutAResync()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var a = await SetAsync(host, "a", "1");
        await SetAsync(host, "a", "2", a.Version);
        await host.Client.CompactAsync(new CompactRequest { Revision = 2 });
        var b = await SetAsync(host, "b", "1");

        using var watch = new WatchStream(host.Client, new WatchRequest { FromRevision = 2 });

        Assert.Equal(b, (await watch.NextChangeAsync()).Entry);
    }

    [Fact]
    public async Task Watch_Quiet_SendsProgressAtTheCurrentRevision()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var a = await SetAsync(host, "a", "1");
        await SetAsync(host, "elsewhere", "1");

        using var watch = new WatchStream(host.Client, new WatchRequest { Prefix = "a", FromRevision = a.Version, ProgressIntervalMs = ConfigLimits.ProgressIntervalMillisecondsMin });
        var first = await watch.NextAsync();
        var second = await watch.NextAsync();

        Assert.Equal(WatchEventKind.Progress, first.Kind);
        Assert.Equal(2, first.Revision);
        Assert.Equal(WatchEventKind.Progress, second.Kind);
    }

    [Fact]
    public async Task Watch_LargeSnapshot_ComesInChunksUnderTheMessageLimit()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var value = new string('v', 60 * 1024);
        const int Keys = 60;
        for (var i = 0; i < Keys; i++)
        {
            await SetAsync(host, $"big/{i:D3}", value);
        }

        using var watch = new WatchStream(host.Client, new WatchRequest { Prefix = "big/" });
        var chunks = new List<WatchEvent> { await watch.NextChangeAsync() };
        while (chunks[^1].More)
        {
            chunks.Add(await watch.NextChangeAsync());
        }

        Assert.True(chunks.Count >= 2, $"{chunks.Count} chunk(s)");
        Assert.All(chunks, c => Assert.Equal(WatchEventKind.Resync, c.Kind));
        Assert.All(chunks, c => Assert.True(c.CalculateSize() < ConfigLimits.PageBytesMax + 64 * 1024));
        Assert.Equal(Enumerable.Range(0, Keys).Select(i => $"big/{i:D3}"), chunks.SelectMany(c => c.Snapshot).Select(e => e.Key));
    }

    [Fact]
    public async Task Watch_FromARevisionAheadOfTheStore_OutOfRange()
    {
        await using var host = await ConfigTestHost.StartAsync();
        await SetAsync(host, "a", "1");

        using var watch = new WatchStream(host.Client, new WatchRequest { FromRevision = 99 });
        var error = await watch.FailureAsync();

        Assert.Equal(StatusCode.OutOfRange, error.StatusCode);
        Assert.Contains("above this store's revision 1", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_BadRequest_InvalidArgumentNamingTheField()
    {
        await using var host = await ConfigTestHost.StartAsync();

        using var prefix = new WatchStream(host.Client, new WatchRequest { Prefix = "Bad" });
        using var progress = new WatchStream(host.Client, new WatchRequest { ProgressIntervalMs = 5 });
        using var from = new WatchStream(host.Client, new WatchRequest { FromRevision = -1 });

        Assert.Equal("prefix", (await prefix.FailureAsync()).Trailers.GetValue("bulwark-field"));
        Assert.Equal("progress_interval_ms", (await progress.FailureAsync()).Trailers.GetValue("bulwark-field"));
        Assert.Equal("from_revision", (await from.FailureAsync()).Trailers.GetValue("bulwark-field"));
    }

    [Fact]
    public async Task Watch_AWatcherThatStopsReading_IsEndedWithResourceExhausted()
    {
        await using var host = await ConfigTestHost.StartAsync(writeStallTimeout: TimeSpan.FromMilliseconds(500));
        var value = new string('v', 60 * 1024);
        for (var i = 0; i < 40; i++)
        {
            await SetAsync(host, $"k{i:D2}", value);
        }
        var metrics = host.Services.GetRequiredService<ConfigMetrics>();

        // Not read until the service has given up on it: HTTP/2 flow control stops its writes.
        // Reading again then drains what was sent and ends in the status.
        using var watch = new WatchStream(host.Client, new WatchRequest { FromRevision = 1 });
        await Eventually(() => metrics.WatchesEnded == 1);
        var error = await watch.FailureAsync();

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(0, metrics.Watchers);
        Assert.Contains("watch again from the last revision you received", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_InstanceStopping_EndsTheWatchWithUnavailable()
    {
        await using var host = await ConfigTestHost.StartAsync();
        var address = host.Services.GetRequiredService<Bulwark.Platform.Hosting.InternalEndpointAccessor>().Get();
        using var channel = global::Grpc.Net.Client.GrpcChannel.ForAddress($"http://{address}");
        using var watch = new WatchStream(new Protos.Config.ConfigClient(channel), new WatchRequest());
        Assert.Equal(WatchEventKind.Resync, (await watch.NextChangeAsync()).Kind);

        await host.StopAsync();
        var error = await watch.FailureAsync();

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("stopping", error.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>Waits (bounded) for a condition the service reaches on its own.</summary>
    private static async Task Eventually(Func<bool> condition)
    {
        using var bound = new CancellationTokenSource(WatchStream.Bound);
        while (!condition())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), bound.Token);
        }
    }
}
