using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text;
using Bulwark.Platform.Placement;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Platform.Tests.Placement;

public sealed class PlacementViewTests
{
    private static readonly PlacementMap First = PlacementMap.CreateInitial("bank-1", 8, ["a", "b"]);

    [Fact]
    public async Task Start_ReadsTheMap_ThenFollowsChanges()
    {
        var store = new ScriptedStore();
        store.Set(First);
        await using var view = NewView(store);

        await view.StartAsync(CancellationToken.None);
        Assert.Equal(1, view.Current!.Version);
        store.Set(First.WithMove(0, "b"));

        await Eventually(() => view.Current!.Version == 2);
        Assert.True(view.IsFresh);
    }

    [Fact]
    public async Task Apply_MalformedThenNewerFormat_KeepsTheLastGoodMap_CountsEachOnce()
    {
        await using var view = NewView(new ScriptedStore());
        view.Apply(new PlacementRead(1, First, null));

        var malformed = PlacementRead.Decode(2, Encoding.UTF8.GetBytes("{ nope"));
        view.Apply(malformed);
        view.Apply(malformed);
        view.Apply(PlacementRead.Decode(3, Encoding.UTF8.GetBytes("{\"formatVersion\": 2}")));

        Assert.Same(First, view.Current);
        Assert.Equal(1, view.UnusableTotal(PlacementMapUnusableReason.Malformed));
        Assert.Equal(1, view.UnusableTotal(PlacementMapUnusableReason.NewerFormat));
        Assert.Equal(PlacementMapUnusableReason.NewerFormat, view.UnusableNow);

        view.Apply(new PlacementRead(4, First.WithMove(0, "b"), null));
        Assert.Equal(2, view.Current!.Version);
        Assert.Null(view.UnusableNow);
    }

    [Fact]
    public async Task Apply_OlderVersionOrOtherBank_Refused()
    {
        await using var view = NewView(new ScriptedStore());
        var second = First.WithMove(0, "b");
        view.Apply(new PlacementRead(1, second, null));

        view.Apply(new PlacementRead(2, First, null));
        view.Apply(new PlacementRead(3, PlacementMap.CreateInitial("bank-2", 8, ["a"]).WithCell("c", new()).WithCell("d", new()), null));

        Assert.Same(second, view.Current);
        Assert.Equal(1, view.UnusableTotal(PlacementMapUnusableReason.OlderVersion));
        Assert.Equal(1, view.UnusableTotal(PlacementMapUnusableReason.OtherCluster));
    }

    [Fact]
    public async Task Metrics_VersionFreshAndUnusableByReason()
    {
        var store = new ScriptedStore();
        store.Set(First);
        await using var view = NewView(store);
        await view.StartAsync(CancellationToken.None);
        await Eventually(() => view.IsFresh);
        // The watch stopped first: it would otherwise read the good map back and clear the gauge
        // before the test observes it (it did under load).
        await view.StopAsync(CancellationToken.None);
        view.Apply(PlacementRead.Decode(99, Encoding.UTF8.GetBytes("garbage")));

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, meters) =>
        {
            if (instrument.Meter.Name == PlacementView.MeterName)
            {
                meters.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var reason = tags.ToArray().FirstOrDefault(tag => tag.Key == "reason").Value as string;
            seen[$"{instrument.Name}/{instrument.GetType().Name.StartsWith("ObservableCounter", StringComparison.Ordinal)}/{reason}"] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(1, seen["placement_map_version/False/"]);
        Assert.Equal(1, seen["placement_map_fresh/False/"]);
        Assert.Equal(1, seen["placement_map_unusable/False/Malformed"]);
        Assert.Equal(0, seen["placement_map_unusable/False/NewerFormat"]);
        Assert.Equal(1, seen["placement_map_unusable/True/Malformed"]);
    }

    [Fact]
    public async Task Watch_GoesSilent_ViewStaleKeepsTheMap_WatchRestarted()
    {
        var store = new ScriptedStore();
        store.Set(First);
        await using var view = NewView(store, new PlacementViewOptions { StaleAfterSeconds = 0.4, RewatchPauseMinMilliseconds = 20 });
        await view.StartAsync(CancellationToken.None);
        await Eventually(() => view.IsFresh);

        store.Silent = true;
        await Eventually(() => !view.IsFresh);
        Assert.Same(First, view.Current);
        Assert.True(view.Stalls >= 1);

        store.Silent = false;
        await Eventually(() => view.IsFresh);
        Assert.True(store.Watches >= 2);
    }

    [Fact]
    public async Task Refresh_BurstOfCallersWhileAReadIsUnderWay_OneRead()
    {
        var store = new ScriptedStore { ReadDelay = TimeSpan.FromMilliseconds(200) };
        store.Set(First);
        await using var view = NewView(store);

        var maps = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => view.RefreshAsync(CancellationToken.None)));

        Assert.All(maps, map => Assert.Equal(1, map!.Version));
        Assert.Equal(1, store.Reads);
    }

    [Fact]
    public async Task Refresh_RightAfterARead_WaitsTheMinimumInterval()
    {
        var store = new ScriptedStore();
        store.Set(First);
        await using var view = NewView(store, new PlacementViewOptions { RefreshIntervalMinMilliseconds = 300 });
        await view.RefreshAsync(CancellationToken.None);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await view.RefreshAsync(CancellationToken.None);

        Assert.Equal(2, store.Reads);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"the second read came after {clock.Elapsed}");
    }

    [Fact]
    public async Task Refresh_StoreAway_Throws_NoMapYet()
    {
        var store = new ScriptedStore { Failing = true };
        await using var view = NewView(store);

        await Assert.ThrowsAsync<IOException>(() => view.RefreshAsync(CancellationToken.None));
        Assert.Null(view.Current);
    }

    private static PlacementView NewView(IPlacementStore store, PlacementViewOptions? options = null) =>
        new(store, TimeProvider.System, NullLogger<PlacementView>.Instance, options ?? new PlacementViewOptions { StaleAfterSeconds = 2 });

    private static async Task Eventually(Func<bool> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "the condition did not hold within 10 s");
            await Task.Delay(20);
        }
    }

    /// <summary>A store the test sets directly; its watch polls every 20 ms and can be made silent (open, saying nothing).</summary>
    private sealed class ScriptedStore : IPlacementStore
    {
        private PlacementRead? _read;
        private long _revision;
        private int _reads;
        private int _watches;

        public bool Silent { get; set; }

        public bool Failing { get; set; }

        public TimeSpan ReadDelay { get; set; }

        public int Reads => Volatile.Read(ref _reads);

        public int Watches => Volatile.Read(ref _watches);

        public void Set(PlacementMap map) => _read = new PlacementRead(Interlocked.Increment(ref _revision), map, null);

        public async Task<PlacementRead?> ReadAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            await Task.Delay(ReadDelay, cancellationToken);
            return Failing ? throw new IOException("the store is away") : _read;
        }

        public Task<PlacementRead> CreateIfAbsentAsync(PlacementMap map, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<PlacementWriteResult> ReplaceAsync(PlacementRead expected, PlacementMap next, CancellationToken cancellationToken) => throw new NotSupportedException();

        public async IAsyncEnumerable<PlacementRead?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _watches);
            while (true)
            {
                if (!Silent)
                {
                    yield return _read;
                }
                await Task.Delay(20, cancellationToken);
            }
        }
    }
}
