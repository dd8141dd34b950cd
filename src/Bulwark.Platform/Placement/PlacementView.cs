using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Placement;

/// <summary>
/// What every ledger client routes by: the last good placement map, kept current by a watch on
/// the store and refreshed at once when a cell refuses a request (<see cref="RefreshAsync"/>).
/// A stored map that cannot be used — malformed, from a newer Bulwark, of another bank, older
/// than the one in use — is never adopted: the last good map stays, the map is counted by reason
/// and logged once per stored change (R1 for the map). A watch that goes quiet is noticed, the
/// view marked stale (still routing on the last good map: fail static) and the watch restarted.
/// <para>Metrics: <c>placement_map_version</c>, <c>placement_map_fresh</c>,
/// <c>placement_map_unusable{reason}</c> (1 while the stored map is unusable: the alert's input),
/// <c>placement_map_unusable_total{reason}</c> (stored changes refused since start).</para>
/// </summary>
public sealed partial class PlacementView : IHostedService, IAsyncDisposable
{
    public const string MeterName = BulwarkMeters.Prefix + "Placement";

    private readonly IPlacementStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PlacementViewOptions _options;
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Lock _lock = new();
    private readonly long[] _unusableTotal = new long[Enum.GetValues<PlacementMapUnusableReason>().Length];
    private readonly CancellationTokenSource _stopping = new();
    private PlacementMap? _current;
    private PlacementRead? _lastRead;
    private PlacementMapUnusableReason? _unusableNow;
    private long _lastConfirmedTimestamp;
    private bool _fresh;
    private long _stalls;
    private Task? _watch;
    private Task<PlacementMap?>? _refresh;
    private long _lastRefreshTimestamp;
    private int _disposed;

    public PlacementView(IPlacementStore store, TimeProvider time, ILogger<PlacementView> logger, PlacementViewOptions? options = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options ?? new PlacementViewOptions();
        _options.Validate();
        _store = store;
        _time = time;
        _logger = logger;
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableGauge("placement_map_version", () => Current?.Version ?? 0L, description: "Version of the placement map this process routes by (0: none yet).");
        _meter.CreateObservableGauge("placement_map_fresh", () => IsFresh ? 1L : 0L, description: "1 while the store confirms the placement map, 0 while routing on the last good one.");
        _meter.CreateObservableGauge("placement_map_unusable", ObserveUnusableNow, description: "1 while the stored placement map cannot be used, by reason (the last good map is routed by).");
        _meter.CreateObservableCounter("placement_map_unusable", ObserveUnusableTotal, description: "Stored placement maps refused since start, by reason.");
    }

    /// <summary>The map to route by: the last good one, or null before any was read.</summary>
    public PlacementMap? Current => Volatile.Read(ref _current);

    /// <summary>True while the store's watch confirms the view within the stale threshold.</summary>
    public bool IsFresh
    {
        get
        {
            lock (_lock)
            {
                return _fresh;
            }
        }
    }

    /// <summary>Why the stored map is not being used, or null when it is (or there is none).</summary>
    public PlacementMapUnusableReason? UnusableNow
    {
        get
        {
            lock (_lock)
            {
                return _unusableNow;
            }
        }
    }

    public long UnusableTotal(PlacementMapUnusableReason reason) => Interlocked.Read(ref _unusableTotal[(int)reason]);

    /// <summary>Watches found stalled and restarted.</summary>
    public long Stalls => Interlocked.Read(ref _stalls);

    /// <summary>Raised after a new map is adopted (never for an unusable one), on the thread that read it.</summary>
    public event Action<PlacementMap>? Changed;

    /// <summary>Reads the map once (bounded: a host starts while the store is away) and starts the watch.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(TimeSpan.FromSeconds(_options.StartReadWaitSeconds));
        try
        {
            await RefreshAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogStartReadFailed(error.Message);
        }
        _watch ??= Task.Run(() => RunWatchAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_watch is { } watch)
        {
            await watch.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads the store now and adopts the map if it is good and newer. Calls made while a read
    /// is under way share it, and reads start at most every
    /// <see cref="PlacementViewOptions.RefreshIntervalMinMilliseconds"/>, so a burst of refusals
    /// costs the store one read. Returns the map to route by afterwards.
    /// </summary>
    public Task<PlacementMap?> RefreshAsync(CancellationToken cancellationToken)
    {
        Task<PlacementMap?> refresh;
        lock (_lock)
        {
            if (_refresh is null || _refresh.IsCompleted)
            {
                var wait = TimeSpan.FromMilliseconds(_options.RefreshIntervalMinMilliseconds) - _time.GetElapsedTime(_lastRefreshTimestamp);
                _refresh = ReadOnceAsync(_lastRefreshTimestamp == 0 || wait <= TimeSpan.Zero ? TimeSpan.Zero : wait);
            }
            refresh = _refresh;
        }
        return refresh.WaitAsync(cancellationToken);
    }

    private async Task<PlacementMap?> ReadOnceAsync(TimeSpan wait)
    {
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, _time, _stopping.Token).ConfigureAwait(false);
        }
        lock (_lock)
        {
            _lastRefreshTimestamp = _time.GetTimestamp();
        }
        // Not the caller's token: the read is shared, and one caller giving up must not fail the others.
        Apply(await _store.ReadAsync(_stopping.Token).ConfigureAwait(false));
        return Current;
    }

    /// <summary>Takes one read of the store: adopts a good, newer map; counts and logs (once per stored change) one that cannot be used.</summary>
    internal void Apply(PlacementRead? read)
    {
        if (read is null)
        {
            return;
        }
        PlacementMap? adopted = null;
        PlacementMapException? refused = null;
        lock (_lock)
        {
            var changed = _lastRead is null || _lastRead.Revision != read.Revision;
            _lastRead = read;
            var error = read.Error ?? Judge(read.Map!);
            if (error is not null)
            {
                _unusableNow = error.Reason;
                if (changed)
                {
                    Interlocked.Increment(ref _unusableTotal[(int)error.Reason]);
                    refused = error;
                }
            }
            else
            {
                _unusableNow = null;
                if (_current is null || read.Map!.Version > _current.Version)
                {
                    adopted = read.Map;
                    Volatile.Write(ref _current, adopted);
                }
            }
        }
        if (refused is not null)
        {
            LogUnusable(refused.Reason, refused.Field, refused.Message, read.Revision, Current?.Version ?? 0);
        }
        if (adopted is not null)
        {
            LogAdopted(adopted.Version, adopted.Cells.Count, adopted.PartitionCount, read.Revision);
            Changed?.Invoke(adopted);
        }
    }

    private PlacementMapException? Judge(PlacementMap map)
    {
        var clusterId = _options.ClusterId ?? _current?.ClusterId;
        if (clusterId is not null && !string.Equals(map.ClusterId, clusterId, StringComparison.Ordinal))
        {
            return new PlacementMapException(PlacementMapUnusableReason.OtherCluster, "clusterId", $"the map is of cluster {map.ClusterId}; this process belongs to {clusterId}");
        }
        if (_current is not null && map.Version < _current.Version)
        {
            return new PlacementMapException(PlacementMapUnusableReason.OlderVersion, "version", $"version {map.Version} is older than version {_current.Version} already in use");
        }
        if (_current is not null && map.PartitionCount != _current.PartitionCount)
        {
            return new PlacementMapException(PlacementMapUnusableReason.Invalid, "partitionCount", $"{map.PartitionCount} partitions; the bank has {_current.PartitionCount}, fixed for its life");
        }
        return null;
    }

    private async Task RunWatchAsync(CancellationToken stopping)
    {
        var pause = TimeSpan.FromMilliseconds(_options.RewatchPauseMinMilliseconds);
        var pauseMax = TimeSpan.FromMilliseconds(_options.RewatchPauseMaxMilliseconds);
        while (!stopping.IsCancellationRequested)
        {
            var why = await WatchOnceAsync(stopping).ConfigureAwait(false);
            if (stopping.IsCancellationRequested)
            {
                return;
            }
            MarkStale(why);
            try
            {
                await Task.Delay(pause, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            pause = pause * 2 < pauseMax ? pause * 2 : pauseMax;
        }
    }

    /// <summary>One watch, ended by a watchdog when nothing arrives within the stale threshold. Returns why it ended.</summary>
    private async Task<string> WatchOnceAsync(CancellationToken stopping)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var staleAfter = TimeSpan.FromSeconds(_options.StaleAfterSeconds);
        Interlocked.Exchange(ref _lastConfirmedTimestamp, _time.GetTimestamp());
        var stalled = 0;
        var watchdog = Task.Run(async () =>
        {
            var tick = TimeSpan.FromMilliseconds(Math.Min(250, staleAfter.TotalMilliseconds / 4));
            while (!attempt.IsCancellationRequested)
            {
                await Task.Delay(tick, _time, attempt.Token).ConfigureAwait(false);
                if (_time.GetElapsedTime(Interlocked.Read(ref _lastConfirmedTimestamp)) > staleAfter)
                {
                    Interlocked.Exchange(ref stalled, 1);
                    await attempt.CancelAsync().ConfigureAwait(false);
                }
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var read in _store.WatchAsync(attempt.Token).ConfigureAwait(false))
            {
                Apply(read);
                MarkFresh();
            }
            return "the watch ended";
        }
        catch (Exception) when (Volatile.Read(ref stalled) == 1 && !stopping.IsCancellationRequested)
        {
            Interlocked.Increment(ref _stalls);
            LogStalled(_options.StaleAfterSeconds);
            return $"nothing from the placement store for {_options.StaleAfterSeconds:0.#} s";
        }
        catch (Exception error) when (!stopping.IsCancellationRequested)
        {
            return error.Message;
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            // Stopping: the store may end a cancelled watch with its own error (a gRPC CANCELLED).
            return "stopping";
        }
        finally
        {
            await attempt.CancelAsync().ConfigureAwait(false);
            try
            {
                await watchdog.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The watchdog ends by cancellation.
            }
        }
    }

    private void MarkFresh()
    {
        Interlocked.Exchange(ref _lastConfirmedTimestamp, _time.GetTimestamp());
        lock (_lock)
        {
            _fresh = true;
        }
    }

    private void MarkStale(string why)
    {
        bool wasFresh;
        lock (_lock)
        {
            wasFresh = _fresh;
            _fresh = false;
        }
        if (wasFresh)
        {
            LogStale(why, Current?.Version ?? 0);
        }
    }

    private IEnumerable<Measurement<long>> ObserveUnusableNow()
    {
        var now = UnusableNow;
        return [.. Enum.GetValues<PlacementMapUnusableReason>().Select(reason => new Measurement<long>(now == reason ? 1 : 0, Reason(reason)))];
    }

    private IEnumerable<Measurement<long>> ObserveUnusableTotal() =>
        [.. Enum.GetValues<PlacementMapUnusableReason>().Select(reason => new Measurement<long>(UnusableTotal(reason), Reason(reason)))];

    private static KeyValuePair<string, object?> Reason(PlacementMapUnusableReason reason) => new("reason", reason.ToString());

    public async ValueTask DisposeAsync()
    {
        // Disposed by the container once as a singleton and once as a hosted service.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_watch is { } watch)
        {
            await watch.ConfigureAwait(false);
        }
        _stopping.Dispose();
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    [LoggerMessage(EventId = 4401, Level = LogLevel.Information, Message = "Placement map version {Version} adopted: {Cells} cell(s), {Partitions} partitions (store revision {Revision})")]
    private partial void LogAdopted(long version, int cells, int partitions, long revision);

    [LoggerMessage(EventId = 4402, Level = LogLevel.Error, Message = "ALERT stored placement map unusable ({Reason}) at {Field}: {Detail} (store revision {Revision}); routing on the last good map, version {Version}")]
    private partial void LogUnusable(PlacementMapUnusableReason reason, string field, string detail, long revision, long version);

    [LoggerMessage(EventId = 4403, Level = LogLevel.Error, Message = "ALERT placement watch stalled: nothing from the store for {Seconds} s; watching again, routing on the last good map")]
    private partial void LogStalled(double seconds);

    [LoggerMessage(EventId = 4404, Level = LogLevel.Warning, Message = "Placement map stale ({Why}); routing on the last good map, version {Version}")]
    private partial void LogStale(string why, long version);

    [LoggerMessage(EventId = 4405, Level = LogLevel.Warning, Message = "Placement map not read at start ({Why}); the watch keeps trying")]
    private partial void LogStartReadFailed(string why);
}
