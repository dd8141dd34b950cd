using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Bulwark.Platform.Placement;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// Fake cells, a placement store the test writes, a <see cref="PlacementView"/> that reads it only
/// when asked (no watch: a test decides when the router's map is stale), and the router with a
/// ledger client over it, as every service gets one.
/// </summary>
public sealed class CellCluster : IAsyncDisposable
{
    public const int PartitionCount = 8;

    private readonly List<FakeCellHost> _hosts = [];
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);
    private readonly TestMeterFactory _meters = new();

    private CellCluster(TestPlacementStore store, PlacementView view)
    {
        Store = store;
        View = view;
    }

    public TestPlacementStore Store { get; }

    public PlacementView View { get; }

    public LedgerCellRouter Router { get; private set; } = null!;

    public Protos.Ledger.LedgerClient Client { get; private set; } = null!;

    public FakeCell this[string cell] => _hosts.Single(host => host.Cell.Name == cell).Cell;

    /// <summary>(instrument, cell or method, reason) -> total.</summary>
    public ConcurrentDictionary<string, long> Measurements => _meters.Totals;

    /// <summary>Starts one fake cell per name, owning the partitions the initial map gives it, and loads the map into the view.</summary>
    public static async Task<CellCluster> StartAsync(IReadOnlyList<string> cells, LedgerRouterLimits? limits = null, bool loadMap = true)
    {
        var store = new TestPlacementStore();
        var cluster = new CellCluster(store, new PlacementView(store, TimeProvider.System, NullLogger<PlacementView>.Instance, new PlacementViewOptions { RefreshIntervalMinMilliseconds = 5 }));
        var map = PlacementMap.CreateInitial("bank-test", PartitionCount, cells);
        foreach (var name in cells)
        {
            var cell = new FakeCell(name, PartitionCount);
            cell.Own(map.PartitionsOf(name));
            cluster._hosts.Add(await FakeCellHost.StartAsync(cell));
        }
        if (loadMap)
        {
            store.Put(map);
            await cluster.View.RefreshAsync(CancellationToken.None);
        }
        cluster.Router = new LedgerCellRouter(cluster.View, cluster.ChannelOf, new LedgerRouterMetrics(cluster._meters), TimeProvider.System,
            NullLogger<LedgerCellRouter>.Instance, limits ?? new LedgerRouterLimits());
        cluster.Client = new Protos.Ledger.LedgerClient(cluster.Router);
        return cluster;
    }

    /// <summary>Moves a partition as a real move ends: the target owns it at epoch + 1, the source names the target; the map in the store is NOT changed.</summary>
    public void MoveCells(int partition, string from, string to)
    {
        var epoch = this[from].Owned[partition] + 1;
        this[from].Owned.TryRemove(partition, out _);
        this[from].HandedTo[partition] = (to, epoch);
        this[to].Owned[partition] = epoch;
    }

    private CallInvoker ChannelOf(string cell) =>
        _channels.GetOrAdd(cell, name => GrpcChannel.ForAddress(_hosts.Single(host => host.Cell.Name == name).Address)).CreateCallInvoker();

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
        await View.DisposeAsync();
        _meters.Dispose();
    }

    /// <summary>Counts every measurement of the router's meter by instrument and tags.</summary>
    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];
        private readonly MeterListener _listener = new();

        public TestMeterFactory()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (_meters.Contains(instrument.Meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                var key = instrument.Name + "/" + string.Join("/", tags.ToArray().Select(tag => tag.Value));
                Totals.AddOrUpdate(key, value, (_, total) => total + value);
            });
            _listener.Start();
        }

        public ConcurrentDictionary<string, long> Totals { get; } = new(StringComparer.Ordinal);

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            _listener.Dispose();
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}

/// <summary>An in-memory placement store the test writes directly.</summary>
public sealed class TestPlacementStore : IPlacementStore
{
    private PlacementRead? _read;
    private long _revision;

    public void Put(PlacementMap map) => _read = new PlacementRead(Interlocked.Increment(ref _revision), map, null);

    public Task<PlacementRead?> ReadAsync(CancellationToken cancellationToken) => Task.FromResult(_read);

    public Task<PlacementRead> CreateIfAbsentAsync(PlacementMap map, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<PlacementWriteResult> ReplaceAsync(PlacementRead expected, PlacementMap next, CancellationToken cancellationToken) => throw new NotSupportedException();

    public async IAsyncEnumerable<PlacementRead?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield break;
    }
}
