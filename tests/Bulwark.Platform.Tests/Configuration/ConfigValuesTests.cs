using Bulwark.Platform.Configuration;

namespace Bulwark.Platform.Tests.Configuration;

/// <summary>
/// The configuration client against a real gRPC service on loopback, reached through
/// <c>bulwark:///config</c> as in production, failing the ways real services fail. Time is the
/// fake clock's; every wait is bounded in real time.
/// </summary>
public sealed class ConfigValuesTests
{
    private const string Ranges = "edge/staff-ranges";
    private const string Banner = "edge/banner";
    private const string UntrustedInstrument = "bulwark.config.client.untrusted_not_found";

    [Fact]
    public async Task Start_ServiceUp_AnswersWithTheServicesValues_WithoutCallingItOnReads()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "10.0.0.0/8");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();

        await ConfigClientFixture.StartAsync(client);

        Assert.True(client.IsFresh);
        Assert.False(client.StartedFromCache);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 1), client.Get(Ranges));
        Assert.Equal(ConfigUnknownReason.NeverSet, Assert.IsType<ConfigUnknown>(client.Get(Banner)).Reason);
        Assert.Equal(0, host.Service.GetCalls);
        Assert.Equal(0, host.Service.Watches.Single().FromRevision);
    }

    [Fact]
    public async Task Watch_LegitimateChange_AppliedAndKeptInTheCacheFile()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "10.0.0.0/8");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);
        var seen = new TaskCompletionSource<ConfigAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watch = client.Watch(Ranges, answer =>
        {
            if (answer is ConfigValue { Text: "10.0.0.0/8,172.16.0.0/12" })
            {
                seen.TrySetResult(answer);
            }
        });

        var change = host.Service.Put(Ranges, "10.0.0.0/8,172.16.0.0/12");
        var answer = await seen.Task.WaitAsync(ConfigClientFixture.WaitMax);

        Assert.Equal(new ConfigValue("10.0.0.0/8,172.16.0.0/12", change.Version), answer);
        Assert.Equal(answer, client.Get(Ranges));
        await ConfigClientFixture.WaitUntilAsync(() => CachedValue(fixture, Ranges) is { Version: 2 }, "the change in the cache file");
    }

    [Fact]
    public async Task Start_ServiceAnswersNotFoundForAKeyThatExists_KeepsTheLastGoodValue_CountsAndAlerts()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "10.0.0.0/8");
        host.Service.Put(Banner, "hello");
        await fixture.RegisterAsync(host.Address);
        // A first run of the process keeps the values in its cache file, then stops.
        var first = fixture.Create();
        await ConfigClientFixture.StartAsync(first);
        await first.DisposeAsync();
        // 2019: the store loses the key (NOT_FOUND on Get, missing from snapshots) while the process restarts.
        host.Service.Lost[Ranges] = true;
        host.Service.CompactedRevision = host.Service.Revision + 1;
        var client = fixture.Create();
        var ranges = client.Setting(Ranges, text => text.Split(','), ["none"]);

        await ConfigClientFixture.StartAsync(client);

        Assert.True(client.IsFresh);
        var answer = Assert.IsType<ConfigUnknown>(client.Get(Ranges));
        Assert.Equal(ConfigUnknownReason.UntrustedNotFound, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 1), answer.LastGood);
        Assert.Equal(["10.0.0.0/8"], ranges.Current);
        Assert.Equal(new ConfigValue("hello", 2), client.Get(Banner));
        Assert.Equal(1, client.UntrustedNotFoundCount);
        Assert.Equal(1, fixture.Metrics.Total(UntrustedInstrument, "edge/", Ranges));
        Assert.True(fixture.Logs.Has(4605));
        // The value is still in the cache file for the next restart.
        Assert.Equal(1, CachedValue(fixture, Ranges)?.Version);
        Assert.Equal(0, host.Service.GetCalls);
    }

    [Fact]
    public async Task Watch_KeyMissingFromALaterResync_UntrustedWhileTheOthersStayFresh_TrustedWhenTheServiceNamesItAgain()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "10.0.0.0/8");
        host.Service.Put(Banner, "hello");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);

        host.Service.Lost[Ranges] = true;
        host.Service.CompactedRevision = host.Service.Revision + 1;
        host.Service.EndStreams();
        await fixture.AdvanceUntilAsync(() => client.UntrustedNotFoundCount >= 1 && client.IsFresh, "the resync without the key");

        Assert.Equal(ConfigUnknownReason.UntrustedNotFound, Assert.IsType<ConfigUnknown>(client.Get(Ranges)).Reason);
        Assert.Equal(new ConfigValue("hello", 2), client.Get(Banner));
        Assert.Equal([Ranges], client.UntrustedKeys);

        host.Service.Lost.Clear();
        var put = host.Service.Put(Ranges, "10.0.0.0/8,192.168.0.0/16");
        await ConfigClientFixture.WaitUntilAsync(() => client.Get(Ranges) is ConfigValue, "the key named again");

        Assert.Equal(new ConfigValue("10.0.0.0/8,192.168.0.0/16", put.Version), client.Get(Ranges));
        Assert.Empty(client.UntrustedKeys);
    }

    [Fact]
    public async Task Watch_Tombstone_IsActedOn_SettingGoesBackToItsDefault()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Banner, "maintenance tonight");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);
        using var banner = client.Setting(Banner, text => text, "");
        Assert.Equal("maintenance tonight", banner.Current);

        var tombstone = host.Service.Delete(Banner);
        await ConfigClientFixture.WaitUntilAsync(() => client.Get(Banner) is ConfigDeleted, "the deletion");

        Assert.Equal(new ConfigDeleted(tombstone.Version), client.Get(Banner));
        Assert.Equal("", banner.Current);
        Assert.Null(banner.Version);
        Assert.Equal(0, client.UntrustedNotFoundCount);
        await ConfigClientFixture.WaitUntilAsync(() => CachedEntry(fixture, Banner) is { Deleted: true }, "the tombstone in the cache file");
    }

    [Fact]
    public async Task Watch_ServiceRestoredFromAnOldBackup_RefusesItsAnswers_KeepsTheLastGoodValue()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "0.0.0.0/0");
        host.Service.Put(Ranges, "10.0.0.0/8");
        host.Service.Put(Banner, "hello");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);
        using var ranges = client.Setting(Ranges, text => text, "none");

        host.Service.RestoreTo(1);
        host.Service.EndStreams();
        // The log line is the last thing the client does about a refusal: once it is there, so are the counts.
        await fixture.AdvanceUntilAsync(() => fixture.Logs.Has(4604), "the restored store's answer to be refused");

        var answer = Assert.IsType<ConfigUnknown>(client.Get(Ranges));
        Assert.Equal(ConfigUnknownReason.RevisionWentBack, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 2), answer.LastGood);
        Assert.Equal("10.0.0.0/8", ranges.Current);
        Assert.False(client.IsFresh);
        Assert.True(fixture.Metrics.Total("bulwark.config.client.revision_went_back", "edge/") >= 1);
        Assert.Equal(2, CachedValue(fixture, Ranges)?.Version);
        // Every new stream resumes from the highest revision seen, never from the restored one.
        Assert.All(host.Service.Watches.Skip(1), watch => Assert.Equal(3, watch.FromRevision));
    }

    [Fact]
    public async Task Start_ServiceDown_CacheOnDisk_ValuesAtOnce_AndTheClientKeepsTrying()
    {
        await using var fixture = new ConfigClientFixture();
        SaveCache(fixture, new ConfigEntry(Ranges, "10.0.0.0/8", 4, false));
        await fixture.RegisterAsync(HangingListener.ClosedAddress());
        var client = fixture.Create();
        using var ranges = client.Setting(Ranges, text => text, "none");

        Assert.Equal("10.0.0.0/8", ranges.Current);
        await fixture.StartWithoutServiceAsync(client);

        Assert.True(client.StartedFromCache);
        Assert.Equal(1.0, fixture.Metrics.Observe("bulwark.config.client.started_from_cache"));
        var answer = Assert.IsType<ConfigUnknown>(client.Get(Ranges));
        Assert.Equal(ConfigUnknownReason.Unavailable, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 4), answer.LastGood);
        await fixture.AdvanceUntilAsync(() => client.Reconnects >= 3, "the client to try again");
        Assert.Equal("10.0.0.0/8", ranges.Current);
        Assert.Equal(ConfigUnknownReason.Unavailable, Assert.IsType<ConfigUnknown>(client.Get(Ranges)).Reason);
        Assert.True(fixture.Logs.Has(4602));
    }

    [Fact]
    public async Task Start_ServiceHangs_StartsWithinItsBound_ReadsNeverWait_AndTheHungStreamIsEnded()
    {
        await using var fixture = new ConfigClientFixture();
        SaveCache(fixture, new ConfigEntry(Ranges, "10.0.0.0/8", 4, false));
        using var hanging = new HangingListener();
        await fixture.RegisterAsync(hanging.Address);
        var client = fixture.Create();

        await fixture.StartWithoutServiceAsync(client);

        Assert.True(client.StartedFromCache);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 4), Assert.IsType<ConfigUnknown>(client.Get(Ranges)).LastGood);
        await fixture.AdvanceUntilAsync(() => fixture.Logs.Has(4612), "the watchdog to end the hung stream");
        Assert.True(client.WatchStalls >= 1);
        Assert.True(hanging.Accepted >= 1);
        Assert.Equal(ConfigUnknownReason.Unavailable, Assert.IsType<ConfigUnknown>(client.Get(Ranges)).Reason);
    }

    [Fact]
    public async Task Watch_StreamGoesSilentWithoutClosing_Stale_ThenResumesFromTheLastRevision()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "10.0.0.0/8");
        host.Service.Put(Banner, "hello");
        host.Service.Silent = true;
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);
        Assert.True(client.IsFresh);

        await fixture.AdvanceUntilAsync(() => fixture.Logs.Has(4607), "the silent stream to be noticed");

        Assert.False(client.IsFresh);
        Assert.True(client.WatchStalls >= 1);
        Assert.True(fixture.Logs.Has(4612));
        Assert.True(fixture.Metrics.Observe("bulwark.config.client.stale_seconds", "edge/") >= 15);
        Assert.Equal(0.0, fixture.Metrics.Observe("bulwark.config.client.fresh", "edge/"));
        var answer = Assert.IsType<ConfigUnknown>(client.Get(Ranges));
        Assert.Equal(ConfigUnknownReason.Unavailable, answer.Reason);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 1), answer.LastGood);

        host.Service.Silent = false;
        await fixture.AdvanceUntilAsync(() => client.IsFresh, "a new stream");

        Assert.Equal(new ConfigValue("10.0.0.0/8", 1), client.Get(Ranges));
        Assert.Contains(host.Service.Watches, watch => watch.FromRevision == 2);
    }

    [Fact]
    public async Task Watch_MalformedValue_SettingKeepsTheLastGood_CountedAndReported()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put("edge/max-sessions", "42");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);
        using var sessions = client.Setting("edge/max-sessions", ParsePositive, 1);
        Assert.Equal(42, sessions.Current);

        host.Service.Put("edge/max-sessions", "forty");
        await ConfigClientFixture.WaitUntilAsync(() => fixture.Logs.Has(4609), "the malformed value to be reported");

        Assert.Equal(42, sessions.Current);
        Assert.True(sessions.IsMalformed);
        Assert.Equal(1, client.MalformedValueCount);
        Assert.Equal(1, fixture.Metrics.Total("bulwark.config.client.malformed_values", "edge/max-sessions"));
        Assert.Equal(1.0, fixture.Metrics.Observe("bulwark.config.client.malformed_kept", "edge/max-sessions"));

        host.Service.Put("edge/max-sessions", "-3");
        await ConfigClientFixture.WaitUntilAsync(() => fixture.Logs.Count(4609) == 2, "the invalid value to be reported");
        Assert.Equal(42, sessions.Current);

        host.Service.Put("edge/max-sessions", "7");
        await ConfigClientFixture.WaitUntilAsync(() => sessions.Current == 7, "the good value");
        Assert.False(sessions.IsMalformed);
        Assert.Null(fixture.Metrics.Observe("bulwark.config.client.malformed_kept", "edge/max-sessions"));
    }

    [Fact]
    public async Task Start_CorruptCacheFile_IgnoredAndCounted_ValuesComeFromTheService()
    {
        await using var fixture = new ConfigClientFixture();
        SaveCache(fixture, new ConfigEntry(Ranges, "0.0.0.0/0", 4, false));
        var bytes = File.ReadAllBytes(fixture.CachePath);
        bytes[^5] ^= 0x20;
        File.WriteAllBytes(fixture.CachePath, bytes);
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "10.0.0.0/8");
        await fixture.RegisterAsync(host.Address);

        var client = fixture.Create();

        Assert.Equal(1, client.CacheUnusableCount);
        Assert.Equal(1, fixture.Metrics.Total("bulwark.config.client.cache_unusable", nameof(ConfigCacheProblem.ChecksumMismatch)));
        Assert.True(fixture.Logs.Has(4614));
        Assert.Null(Assert.IsType<ConfigUnknown>(client.Get(Ranges)).LastGood);
        await ConfigClientFixture.StartAsync(client);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 1), client.Get(Ranges));
        // The next good answer replaced the damaged file.
        Assert.Equal(1, CachedValue(fixture, Ranges)?.Version);
    }

    [Fact]
    public async Task Watch_ChunkedResync_ReplacesTheViewOnlyOnceComplete()
    {
        await using var fixture = new ConfigClientFixture();
        SaveCache(fixture, new ConfigEntry("edge/a", "old-a", 1, false), new ConfigEntry("edge/b", "old-b", 2, false));
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put("edge/a", "old-a");
        host.Service.Put("edge/b", "old-b");
        host.Service.Put("edge/a", "new-a");
        host.Service.Put("edge/b", "new-b");
        host.Service.Put("edge/c", "new-c");
        host.Service.CompactedRevision = host.Service.Revision;
        host.Service.ChunkSize = 2;
        host.Service.StallAfterFirstChunk = true;
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();

        await fixture.StartWithoutServiceAsync(client);

        // Only the first chunk (a, b) arrived: nothing of it is taken.
        Assert.Equal(new ConfigValue("old-a", 1), Assert.IsType<ConfigUnknown>(client.Get("edge/a")).LastGood);
        Assert.Equal(new ConfigValue("old-b", 2), Assert.IsType<ConfigUnknown>(client.Get("edge/b")).LastGood);

        host.Service.StallAfterFirstChunk = false;
        await fixture.AdvanceUntilAsync(() => client.IsFresh, "a complete snapshot");

        Assert.Equal(new ConfigValue("new-a", 3), client.Get("edge/a"));
        Assert.Equal(new ConfigValue("new-b", 4), client.Get("edge/b"));
        Assert.Equal(new ConfigValue("new-c", 5), client.Get("edge/c"));
        Assert.Equal(0, client.UntrustedNotFoundCount);
    }

    [Fact]
    public async Task Watch_RevisionConfirmedOnlyByProgress_KeptInTheCacheFile_SoARestartStillKnowsIt()
    {
        await using var fixture = new ConfigClientFixture();
        await using var host = await FakeConfigServiceHost.StartAsync(new FakeConfigService(fixture.Time));
        host.Service.Put(Ranges, "10.0.0.0/8");
        await fixture.RegisterAsync(host.Address);
        var client = fixture.Create();
        await ConfigClientFixture.StartAsync(client);
        Assert.Equal(1, CachedRevision(fixture));

        // Changes under another prefix move the store's revision; this prefix hears of it only by progress.
        host.Service.Put("feed/page-size", "50");
        host.Service.Put("feed/page-size", "100");
        await fixture.AdvanceUntilAsync(() => CachedRevision(fixture) == 3, "the progressed revision in the cache file", TimeSpan.FromMilliseconds(500));

        Assert.True(client.IsFresh);
        Assert.Equal(new ConfigValue("10.0.0.0/8", 1), CachedValue(fixture, Ranges) is { } cached ? new ConfigValue(cached.Value, cached.Version) : null);
    }

    private static long? CachedRevision(ConfigClientFixture fixture) =>
        ConfigCacheFile.Load(fixture.CachePath, out _, out _)?.Revisions.GetValueOrDefault("edge/");

    private static int ParsePositive(string text)
    {
        var value = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return value > 0 ? value : throw new FormatException($"{value} is not positive");
    }

    private static void SaveCache(ConfigClientFixture fixture, params ConfigEntry[] entries) =>
        ConfigCacheFile.Save(fixture.CachePath, new ConfigCacheContent(entries,
            new Dictionary<string, long> { ["edge/"] = entries.Max(entry => entry.Version) }, fixture.Time.GetUtcNow()));

    private static ConfigEntry? CachedEntry(ConfigClientFixture fixture, string key) =>
        ConfigCacheFile.Load(fixture.CachePath, out _, out _)?.Entries.SingleOrDefault(entry => entry.Key == key);

    private static ConfigEntry? CachedValue(ConfigClientFixture fixture, string key) =>
        CachedEntry(fixture, key) is { Deleted: false } entry ? entry : null;
}
