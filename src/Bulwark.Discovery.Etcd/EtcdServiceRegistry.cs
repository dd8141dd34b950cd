using System.Text;
using Bulwark.Discovery.Etcd.Api;
using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Platform.Registry;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bulwark.Discovery.Etcd;

/// <summary>
/// The cluster registry: instance records under <c>/bulwark/services/&lt;service&gt;/&lt;instance&gt;</c>
/// bound to a lease kept alive, desired state under <c>/bulwark/deployments/&lt;service&gt;</c>.
/// One watch on the whole prefix keeps an in-memory copy of every record; views are derived from
/// it by the rules R1-R5 (docs/internals/discovery.md). Start it with <see cref="StartAsync"/>.
/// </summary>
public sealed partial class EtcdServiceRegistry : IServiceRegistry, IAsyncDisposable
{
    private readonly EtcdRegistryOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly EtcdCluster _cluster;
    private readonly EndpointHealthMonitor _health;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, byte[]> _records = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ServiceView> _published = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Action<ServiceView>>> _watchers = new(StringComparer.Ordinal);
    private readonly List<Task> _loops = [];
    private long _revision;
    private bool _fresh;
    private bool _hasView;
    private bool _needResync = true;
    private long _lastConfirmedTimestamp;
    private int _snapshotDirty;
    private long _recordsSkipped;
    private readonly long[] _skippedByReason = new long[Enum.GetValues<SkipReason>().Length];
    private long _stalls;
    private long _reconnects;
    private long _resyncs;
    private int _startedFromSnapshot;
    private int _disposed;

    private EtcdServiceRegistry(EtcdRegistryOptions options, ILogger logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _time = time;
        _cluster = new EtcdCluster(options.Endpoints, TimeSpan.FromSeconds(options.CallTimeoutSeconds), logger);
        _health = new EndpointHealthMonitor(options, Republish);
        _lastConfirmedTimestamp = time.GetTimestamp();
        _leaseTtlSeconds = options.LeaseTtlSeconds;
    }

    /// <summary>The name used in logs and metrics.</summary>
    public string ProcessName => _options.ProcessName;

    /// <summary>True while the watch is live and confirmed within the stale threshold (R3).</summary>
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

    /// <summary>True once the process has a view to route on, fresh or from the snapshot (R5).</summary>
    public bool HasView
    {
        get
        {
            lock (_lock)
            {
                return _hasView;
            }
        }
    }

    /// <summary>Seconds since etcd last confirmed the view (the discovery_stale_seconds metric).</summary>
    public double StaleSeconds => _time.GetElapsedTime(Interlocked.Read(ref _lastConfirmedTimestamp)).TotalSeconds;

    /// <summary>Records skipped by rule R1 since start.</summary>
    public long RecordsSkipped => Interlocked.Read(ref _recordsSkipped);

    /// <summary>Stalled watches detected by rule R3 since start.</summary>
    public long StallsDetected => Interlocked.Read(ref _stalls);

    /// <summary>Full reads of every record (at start, and when a resume revision was compacted).</summary>
    public long Resyncs => Interlocked.Read(ref _resyncs);

    /// <summary>True when this process started from its snapshot because etcd did not answer (R5).</summary>
    public bool StartedFromSnapshot => Volatile.Read(ref _startedFromSnapshot) == 1;

    /// <summary>Watch re-establishments since start.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>The etcd revision the view reflects.</summary>
    public long Revision
    {
        get
        {
            lock (_lock)
            {
                return _revision;
            }
        }
    }

    /// <summary>The etcd members this registry knows, the one in use first.</summary>
    public IReadOnlyList<Uri> Members => _cluster.Endpoints;

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Connects, reads every record and starts watching. When no member answers within
    /// <see cref="EtcdRegistryOptions.StartTimeoutSeconds"/>, starts from the snapshot (R5) and keeps
    /// trying in the background; with no snapshot either, throws <see cref="EtcdUnavailableException"/>
    /// naming what was tried.
    /// </summary>
    public static async Task<EtcdServiceRegistry> StartAsync(EtcdRegistryOptions options, ILogger? logger = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var registry = new EtcdServiceRegistry(options, logger ?? NullLogger.Instance, time ?? TimeProvider.System);
        // Tracked before the first record is read: the metrics are observed from the registry's
        // own counts, so records skipped during start-up are reported even by a process whose
        // metrics exporter starts later (the R1 alert must not go quiet after a restart).
        DiscoveryMetrics.Track(registry);
        try
        {
            await registry.ConnectOrLoadSnapshotAsync(cancellationToken).ConfigureAwait(false);
            // A caller that gave up while the start fell back to the snapshot is told so, whatever
            // the fallback achieved: its cancellation is always OperationCanceledException.
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch
        {
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        registry.StartLoop("watch", registry.RunDiscoveryAsync);
        registry.StartLoop("members", registry.RunMemberRefreshAsync);
        registry.StartLoop("lease", registry.RunLeaseAsync);
        registry.StartLoop("health", registry.RunHealthAsync);
        registry.StartLoop("snapshot", registry.RunSnapshotAsync);
        return registry;
    }

    /// <summary>
    /// Runs a background loop for the registry's lifetime. A loop that throws something its own
    /// handlers did not expect is logged and started again: a discovery loop that died quietly
    /// would be the 2017 stall by other means.
    /// </summary>
    private void StartLoop(string name, Func<CancellationToken, Task> loop)
    {
        var cancellationToken = _stopping.Token;
        _loops.Add(Task.Run(async () =>
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await loop(cancellationToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // Any failure is logged and the loop restarted; see above.
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
                {
                    LogLoopFailed(name, exception);
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }, CancellationToken.None));
    }

    /// <summary>
    /// Start-up never depends on etcd answering (R5): with a usable snapshot it waits at most
    /// <see cref="EtcdRegistryOptions.StartFromSnapshotAfterSeconds"/> for a fresh view, asking every
    /// member at once, then routes from the snapshot and lets the watch loop catch up. Without a
    /// snapshot there is nothing else to route on, so it keeps asking for
    /// <see cref="EtcdRegistryOptions.StartTimeoutSeconds"/> and then gives up naming what it tried.
    /// </summary>
    private async Task ConnectOrLoadSnapshotAsync(CancellationToken cancellationToken)
    {
        var snapshotPath = _options.SnapshotPath;
        var hasSnapshot = snapshotPath is not null && DiscoverySnapshot.TryLoad(snapshotPath, out _, out _, out _, out _);
        var budget = TimeSpan.FromSeconds(hasSnapshot ? _options.StartFromSnapshotAfterSeconds : _options.StartTimeoutSeconds);
        var started = _time.GetTimestamp();
        Exception? failure = null;
        var tried = string.Join(", ", _cluster.Endpoints);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var remaining = budget - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }
            try
            {
                await ResyncFromFirstAnswerAsync(remaining, cancellationToken).ConfigureAwait(false);
                SaveSnapshot();
                return;
            }
            catch (Exception exception) when (EtcdCluster.IsNotAnswering(exception) && !cancellationToken.IsCancellationRequested)
            {
                failure = exception;
            }
            var pause = TimeSpan.FromMilliseconds(Math.Min(200, Math.Max(0, (budget - _time.GetElapsedTime(started)).TotalMilliseconds)));
            await Task.Delay(pause, _time, cancellationToken).ConfigureAwait(false);
        }
        var problem = failure is null ? "timed out" : EtcdCluster.Describe(failure);
        if (snapshotPath is not null
            && DiscoverySnapshot.TryLoad(snapshotPath, out var views, out var revision, out var savedAt, out var snapshotError))
        {
            lock (_lock)
            {
                foreach (var view in views)
                {
                    _published[view.Service] = view;
                }
                _revision = revision;
                _hasView = true;
                _needResync = true;
            }
            Interlocked.Exchange(ref _startedFromSnapshot, 1);
            LogStartedFromSnapshot(tried, problem, _time.GetElapsedTime(started).TotalMilliseconds, snapshotPath, savedAt, views.Count);
            return;
        }
        snapshotError = snapshotPath is null ? "no snapshot path configured" : $"snapshot {snapshotPath}: {SnapshotProblem(snapshotPath)}";
        throw new EtcdUnavailableException(
            $"Could not reach etcd within {budget.TotalSeconds:0.#} s (tried {tried}: {problem}), and there is no discovery snapshot to start from ({snapshotError}).",
            failure);
    }

    private static string SnapshotProblem(string path)
    {
        DiscoverySnapshot.TryLoad(path, out _, out _, out _, out var error);
        return error ?? "unreadable";
    }

    /// <inheritdoc/>
    public ServiceView GetView(string service)
    {
        lock (_lock)
        {
            return _health.Filter(ViewLocked(service));
        }
    }

    /// <inheritdoc/>
    public IDisposable Watch(string service, Action<ServiceView> onChange)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        ArgumentNullException.ThrowIfNull(onChange);
        ServiceView current;
        lock (_lock)
        {
            if (!_watchers.TryGetValue(service, out var list))
            {
                list = [];
                _watchers[service] = list;
            }
            list.Add(onChange);
            current = _health.Filter(ViewLocked(service));
        }
        onChange(current);
        return new Subscription(this, service, onChange);
    }

    private ServiceView ViewLocked(string service) =>
        _published.TryGetValue(service, out var view)
            ? view
            : DiscoveryRules.Decide(service, [], null, _fresh, _revision, previous: null);

    /// <summary>
    /// Recomputes every service's view from the records (R1 parsing, R2/R4 rules) and tells the
    /// watchers of those that changed. Called after every applied change and freshness change.
    /// </summary>
    private void Recompute()
    {
        List<(Action<ServiceView> Watcher, ServiceView View)> calls = [];
        lock (_lock)
        {
            var instances = new Dictionary<string, List<ServiceInstance>>(StringComparer.Ordinal);
            var deployments = new Dictionary<string, DeploymentRecord>(StringComparer.Ordinal);
            foreach (var (key, value) in _records)
            {
                switch (ParseKey(key))
                {
                    case (RecordKind.Instance, var service, var instanceId)
                        when DiscoveryRecords.TryParseInstance(service, instanceId, value, out var instance, out _):
                        if (!instances.TryGetValue(service, out var list))
                        {
                            list = [];
                            instances[service] = list;
                        }
                        list.Add(instance);
                        break;
                    case (RecordKind.Deployment, var service, _)
                        when DiscoveryRecords.TryParseDeployment(value, out var deployment, out _):
                        deployments[service] = deployment;
                        break;
                    default:
                        break;
                }
            }
            var services = instances.Keys.Concat(deployments.Keys).Concat(_published.Keys).Concat(_watchers.Keys)
                .Distinct(StringComparer.Ordinal).ToList();
            foreach (var service in services)
            {
                _published.TryGetValue(service, out var previous);
                var parsed = instances.TryGetValue(service, out var found) ? found : [];
                var view = DiscoveryRules.Decide(service, parsed, deployments.GetValueOrDefault(service), _fresh, _revision, previous);
                if (previous is not null && SameView(previous, view))
                {
                    continue;
                }
                _published[service] = view;
                Interlocked.Exchange(ref _snapshotDirty, 1);
                if (_watchers.TryGetValue(service, out var watchers))
                {
                    var filtered = _health.Filter(view);
                    calls.AddRange(watchers.Select(watcher => (watcher, filtered)));
                }
            }
        }
        foreach (var (watcher, view) in calls)
        {
            watcher(view);
        }
    }

    private static bool SameView(ServiceView a, ServiceView b) =>
        a.Authoritative == b.Authoritative
        && string.Equals(a.Detail, b.Detail, StringComparison.Ordinal)
        && a.Instances.SequenceEqual(b.Instances);

    /// <summary>Tells a service's watchers again (its health ejections changed).</summary>
    private void Republish(string service)
    {
        Action<ServiceView>[] watchers;
        ServiceView view;
        lock (_lock)
        {
            if (!_watchers.TryGetValue(service, out var list) || list.Count == 0)
            {
                return;
            }
            watchers = [.. list];
            view = _health.Filter(ViewLocked(service));
        }
        LogHealthChanged(service, view.Instances.Count);
        foreach (var watcher in watchers)
        {
            watcher(view);
        }
    }

    private enum RecordKind
    {
        Other,
        Instance,
        Deployment,
    }

    private (RecordKind Kind, string Service, string InstanceId) ParseKey(string key)
    {
        var rest = key.AsSpan(_options.KeyPrefix.Length);
        if (rest.StartsWith("services/"))
        {
            var path = rest["services/".Length..];
            var slash = path.IndexOf('/');
            return slash > 0 && slash < path.Length - 1
                ? (RecordKind.Instance, path[..slash].ToString(), path[(slash + 1)..].ToString())
                : (RecordKind.Other, "", "");
        }
        if (rest.StartsWith("deployments/"))
        {
            var service = rest["deployments/".Length..];
            return service.Length > 0 && !service.Contains('/')
                ? (RecordKind.Deployment, service.ToString(), "")
                : (RecordKind.Other, "", "");
        }
        return (RecordKind.Other, "", "");
    }

    /// <summary>Rule R1 at the door: a record that cannot be used is counted and logged once per change.</summary>
    private void CountIfUnusable(string key, byte[] value)
    {
        if (!IsUsable(key, value, out var reason))
        {
            Interlocked.Increment(ref _recordsSkipped);
            Interlocked.Increment(ref _skippedByReason[(int)reason]);
            LogRecordSkipped(key, reason);
        }
    }

    private bool IsUsable(string key, byte[] value, out SkipReason reason)
    {
        var parsed = ParseKey(key);
        return parsed.Kind switch
        {
            RecordKind.Instance => DiscoveryRecords.TryParseInstance(parsed.Service, parsed.InstanceId, value, out _, out reason),
            RecordKind.Deployment => DiscoveryRecords.TryParseDeployment(value, out _, out reason),
            _ => IsOtherKeyUsable(key, out reason),
        };
    }

    /// <summary>Records skipped since start, by reason (every reason, zeros included, so the series exist from the first scrape).</summary>
    internal IEnumerable<KeyValuePair<SkipReason, long>> SkippedByReason() =>
        Enum.GetValues<SkipReason>().Select(reason => KeyValuePair.Create(reason, Interlocked.Read(ref _skippedByReason[(int)reason])));

    /// <summary>Unusable records in the copy of etcd now, by reason (every reason, zeros included).</summary>
    internal IEnumerable<KeyValuePair<SkipReason, long>> UnusableByReason()
    {
        var counts = new long[_skippedByReason.Length];
        lock (_lock)
        {
            foreach (var (key, value) in _records)
            {
                if (!IsUsable(key, value, out var reason))
                {
                    counts[(int)reason]++;
                }
            }
        }
        return Enum.GetValues<SkipReason>().Select(reason => KeyValuePair.Create(reason, counts[(int)reason]));
    }

    private bool IsOtherKeyUsable(string key, out SkipReason reason)
    {
        // Keys under the prefix that are neither instances nor deployments belong to later
        // features; only malformed keys in the two known folders count as bad.
        var rest = key.AsSpan(_options.KeyPrefix.Length);
        reason = SkipReason.BadKey;
        return !rest.StartsWith("services/") && !rest.StartsWith("deployments/");
    }

    internal ByteString PrefixKey => ByteString.CopyFromUtf8(_options.KeyPrefix);

    internal ByteString PrefixEnd => ByteString.CopyFrom(PrefixEndBytes(Encoding.UTF8.GetBytes(_options.KeyPrefix)));

    private static byte[] PrefixEndBytes(byte[] prefix)
    {
        var end = (byte[])prefix.Clone();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }
        return [0];
    }

    private void SaveSnapshot()
    {
        if (_options.SnapshotPath is not { } path)
        {
            return;
        }
        List<ServiceView> views;
        long revision;
        lock (_lock)
        {
            if (!_hasView)
            {
                return;
            }
            views = [.. _published.Values];
            revision = _revision;
        }
        try
        {
            DiscoverySnapshot.Save(path, views, revision, _time.GetUtcNow());
        }
        catch (IOException exception)
        {
            LogSnapshotFailed(path, exception.Message);
        }
        catch (UnauthorizedAccessException exception)
        {
            LogSnapshotFailed(path, exception.Message);
        }
    }

    private async Task RunSnapshotAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (Interlocked.Exchange(ref _snapshotDirty, 0) == 1)
            {
                SaveSnapshot();
            }
        }
    }

    private async Task RunHealthAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(_options.HealthProbeIntervalSeconds), _time, cancellationToken).ConfigureAwait(false);
                List<ServiceView> routed;
                lock (_lock)
                {
                    routed = [.. _watchers.Where(w => w.Value.Count > 0).Select(w => ViewLocked(w.Key))];
                }
                await _health.ProbeAsync(routed, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task RunMemberRefreshAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(_options.MemberRefreshIntervalSeconds), _time, cancellationToken).ConfigureAwait(false);
                await _cluster.RefreshMembersAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (EtcdUnavailableException)
            {
                // The watch loop reports unreachable etcd; the member list is tried again later.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await RevokeLeaseAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogLoopsDidNotStop();
        }
        SaveSnapshot();
        _health.Dispose();
        _cluster.Dispose();
        _stopping.Dispose();
    }

    private sealed class Subscription(EtcdServiceRegistry registry, string service, Action<ServiceView> onChange) : IDisposable
    {
        public void Dispose()
        {
            lock (registry._lock)
            {
                if (registry._watchers.TryGetValue(service, out var list))
                {
                    list.Remove(onChange);
                }
            }
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Discovery record {Key} skipped ({Reason}); the rest of the view is unaffected")]
    private partial void LogRecordSkipped(string key, SkipReason reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "etcd not answering at start (tried {Tried}: {Problem}); after {Milliseconds:0} ms routing from the snapshot {Path} saved at {SavedAt} ({Services} services) until it answers")]
    private partial void LogStartedFromSnapshot(string tried, string problem, double milliseconds, string path, DateTimeOffset savedAt, int services);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Could not write the discovery snapshot {Path}: {Error}")]
    private partial void LogSnapshotFailed(string path, string error);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Health probes changed the routable instances of {Service}: {Count} routable")]
    private partial void LogHealthChanged(string service, int count);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "Discovery loop {Loop} failed; restarting it")]
    private partial void LogLoopFailed(string loop, Exception exception);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Discovery loops did not stop within 5 s")]
    private partial void LogLoopsDidNotStop();
}
