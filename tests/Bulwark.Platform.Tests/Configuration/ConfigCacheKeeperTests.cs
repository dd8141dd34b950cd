using Bulwark.Platform.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Platform.Tests.Configuration;

public sealed class ConfigCacheKeeperTests : IDisposable
{
    private const string Prefix = "edge/";

    private readonly string _directory = Directory.CreateTempSubdirectory("bulwark-config-keeper-").FullName;
    private readonly FakeTimeProvider _time = new();
    private readonly MetricRecorder _metrics = new();
    private readonly LogRecorder _logs = new();

    private (ConfigCacheKeeper Keeper, ConfigView View) Create(string path)
    {
        var view = new ConfigView(new ConfigClientOptions { Prefixes = [Prefix] }, _time);
        var metrics = new ConfigClientMetrics(_metrics, view, () => [], () => false);
        return (new ConfigCacheKeeper(path, view, metrics, _time, _logs.CreateLogger("test")), view);
    }

    [Fact]
    public void AfterApply_FileCannotBeWritten_CountedAndLogged_NotThrown()
    {
        var blocker = Path.Combine(_directory, "not-a-directory");
        File.WriteAllText(blocker, "a file where the cache's directory should be");
        var (keeper, view) = Create(Path.Combine(blocker, "config-cache.bin"));
        var result = view.ApplyResync(Prefix, [new ConfigEntry("edge/a", "1", 1, false)], 1);

        keeper.AfterApply(Prefix, result.ContentChanged);

        Assert.Equal(1, _metrics.Total("bulwark.config.client.cache_write_failures"));
        Assert.True(_logs.Has(4616));
    }

    [Fact]
    public void AfterApply_OnlyProgress_WrittenOncePerInterval()
    {
        var path = Path.Combine(_directory, "config-cache.bin");
        var (keeper, view) = Create(path);
        keeper.AfterApply(Prefix, view.ApplyResync(Prefix, [new ConfigEntry("edge/a", "1", 1, false)], 1).ContentChanged);

        view.ApplyProgress(Prefix, 5);
        keeper.AfterApply(Prefix, contentChanged: false);
        Assert.Equal(1, Revision(path));

        _time.Advance(TimeSpan.FromSeconds(ConfigClientLimits.CacheRevisionSaveIntervalSeconds));
        keeper.AfterApply(Prefix, contentChanged: false);
        Assert.Equal(5, Revision(path));
    }

    [Fact]
    public void Load_NoFile_NothingLoadedNothingCounted()
    {
        var (keeper, _) = Create(Path.Combine(_directory, "absent.bin"));

        Assert.Equal(0, keeper.Load());
        Assert.Equal(0, keeper.UnusableCount);
    }

    private static long Revision(string path) => ConfigCacheFile.Load(path, out _, out _)!.Revisions[Prefix];

    public void Dispose()
    {
        _metrics.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
