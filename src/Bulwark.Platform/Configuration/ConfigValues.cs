using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Platform.Discovery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ConfigServiceClient = Bulwark.Config.Protos.Config.ConfigClient;

namespace Bulwark.Platform.Configuration;

/// <summary>
/// The platform's configuration client, the one way a Bulwark process reads configuration (issue 14,
/// R14). Reads (<see cref="Get"/>, <see cref="Watch"/>, <see cref="ConfigSetting{T}.Current"/>) are
/// answered from memory, never by a call on the request path; one watch stream per prefix to
/// <c>bulwark:///config</c> keeps the memory current (<see cref="ConfigPrefixWatcher"/>) and the
/// last known good values are kept in a cache file, loaded when this object is made, so a process
/// that starts while the service is away has them at once. Every answer is a value, a deletion
/// (a tombstone seen) or unknown — never a not-found the client cannot trust (<see cref="ConfigView"/>
/// has the rules). Started and stopped with the host (<see cref="ConfigClientServiceCollectionExtensions.AddBulwarkConfig"/>);
/// start-up waits at most <see cref="ConfigClientOptions.StartWaitSeconds"/> for the service.
/// </summary>
public sealed partial class ConfigValues : IHostedService, IAsyncDisposable
{
    private readonly ConfigClientOptions _options;
    private readonly IServiceChannelFactory _channels;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConfigClientMetrics _metrics;
    private readonly ConfigCacheKeeper _cache;
    // Applying an answer and telling the watchers about it happen under one lock, so every watcher
    // sees the answers in the order they were decided. Readers (Get) never take it.
    private readonly Lock _gate = new();
    private readonly List<Subscription> _subscriptions = [];
    private readonly ConcurrentDictionary<string, long> _malformedNow = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _allConfirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    // Set once by StartAsync; read by the counters below from any thread.
    private volatile ConfigPrefixWatcher[] _watchers = [];
    private readonly List<Task> _loops = [];
    private int _cachedKeys;
    private int _startedFromCache;
    private long _untrustedNotFound;
    private long _revisionWentBack;
    private long _malformedValues;
    private int _started;
    private int _disposed;

    public ConfigValues(IServiceChannelFactory channels, ConfigClientOptions options, TimeProvider time, ILogger<ConfigValues> logger, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(channels);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _channels = channels;
        _options = options;
        _time = time;
        _logger = logger;
        View = new ConfigView(options, time);
        _metrics = new ConfigClientMetrics(meterFactory, View, () => [.. _malformedNow.Keys], () => StartedFromCache);
        _cache = new ConfigCacheKeeper(options.CachePath, View, _metrics, time, logger);
        _cachedKeys = _cache.Load();
    }

    /// <summary>True when start-up went on with the cache file's values because the service had not confirmed every prefix in time.</summary>
    public bool StartedFromCache => Volatile.Read(ref _startedFromCache) == 1;

    /// <summary>True while the service confirms every watched prefix within the staleness bound.</summary>
    public bool IsFresh => _options.Prefixes.All(View.IsFresh);

    /// <summary>Keys whose answer is <see cref="ConfigUnknownReason.UntrustedNotFound"/> now.</summary>
    public IReadOnlyList<string> UntrustedKeys => View.UntrustedKeys();

    /// <summary>Answers that lacked a key held with a value, without a tombstone, since start (R14 a).</summary>
    public long UntrustedNotFoundCount => Interlocked.Read(ref _untrustedNotFound);

    /// <summary>Answers refused since start because their revision went back (R14 c).</summary>
    public long RevisionWentBackCount => Interlocked.Read(ref _revisionWentBack);

    /// <summary>Stored values a setting could not parse or validate since start (the last good value was kept).</summary>
    public long MalformedValueCount => Interlocked.Read(ref _malformedValues);

    /// <summary>Cache files that could not be used at start (0 or 1).</summary>
    public long CacheUnusableCount => _cache.UnusableCount;

    /// <summary>Watch streams found silent past the staleness bound, over all prefixes.</summary>
    public long WatchStalls => _watchers.Sum(watcher => watcher.Stalls);

    /// <summary>Watch streams opened again after one ended or failed, over all prefixes.</summary>
    public long Reconnects => _watchers.Sum(watcher => watcher.Reconnects);

    internal ConfigView View { get; }

    /// <summary>The answer for <paramref name="key"/> now, from memory: never waits, never calls the service.</summary>
    /// <exception cref="ArgumentException">The key is not under a watched prefix.</exception>
    public ConfigAnswer Get(string key) => View.Answer(key);

    /// <summary>
    /// Calls <paramref name="onChange"/> with the key's answer at once, then each time it changes
    /// (a new value, a deletion, the service going stale or coming back). Calls are made one at a
    /// time, in order, on the client's own thread: keep them short, and do not call <see cref="Watch"/>
    /// from one. Disposing the result stops them.
    /// </summary>
    public IDisposable Watch(string key, Action<ConfigAnswer> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        var subscription = new Subscription(this, key, View.PrefixOrThrow(key), onChange);
        lock (_gate)
        {
            _subscriptions.Add(subscription);
            subscription.Last = View.Answer(key);
            onChange(subscription.Last);
        }
        return subscription;
    }

    /// <summary>
    /// A typed setting: <see cref="ConfigSetting{T}.Current"/> is the last value that
    /// <paramref name="parse"/> accepted (it throws to refuse one), or <paramref name="defaultValue"/>
    /// when the key was never set or was deleted. A malformed value keeps the last good one, and is
    /// counted and logged.
    /// </summary>
    public ConfigSetting<T> Setting<T>(string key, Func<string, T> parse, T defaultValue) => new(this, key, parse, defaultValue);

    /// <summary>Starts one watch per prefix and waits at most <see cref="ConfigClientOptions.StartWaitSeconds"/> for all of them to be confirmed.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            return;
        }
        var client = new ConfigServiceClient(_channels.GetChannel(_options.Service));
        _watchers = [.. _options.Prefixes.Select(prefix => new ConfigPrefixWatcher(prefix, client, this, _options, _metrics, _time, _logger))];
        foreach (var watcher in _watchers)
        {
            _loops.Add(RunLoopAsync(watcher, _stopping.Token));
        }
        try
        {
            await _allConfirmed.Task.WaitAsync(TimeSpan.FromSeconds(_options.StartWaitSeconds), _time, cancellationToken).ConfigureAwait(false);
            LogStartedFresh(_options.Prefixes.Count);
        }
        catch (TimeoutException)
        {
            var unconfirmed = string.Join(", ", _options.Prefixes.Where(prefix => !View.IsFresh(prefix)).Select(prefix => $"'{prefix}'"));
            if (Volatile.Read(ref _cachedKeys) > 0)
            {
                Volatile.Write(ref _startedFromCache, 1);
                LogStartedFromCache(unconfirmed, _options.StartWaitSeconds, Volatile.Read(ref _cachedKeys), _options.CachePath ?? "");
            }
            else
            {
                LogStartedWithNothing(unconfirmed, _options.StartWaitSeconds);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Applies one answer of the service under the gate, counts and logs what the R14 rules found,
    /// tells the watchers, and keeps the new content in the cache file. Called by the watch loops.
    /// </summary>
    internal ConfigApplyResult Apply(string prefix, Func<ConfigView, ConfigApplyResult> apply, long revision)
    {
        ConfigApplyResult result;
        lock (_gate)
        {
            var highest = View.RevisionOf(prefix);
            result = apply(View);
            if (result.Refused)
            {
                Interlocked.Increment(ref _revisionWentBack);
                _metrics.RevisionWentBack(prefix);
                LogRevisionWentBack(prefix, revision, highest);
            }
            foreach (var key in result.Untrusted)
            {
                Interlocked.Increment(ref _untrustedNotFound);
                _metrics.UntrustedNotFound(prefix, key);
                LogUntrustedNotFound(key, prefix, revision);
            }
            foreach (var key in result.OlderKeys)
            {
                Interlocked.Increment(ref _revisionWentBack);
                _metrics.RevisionWentBack(prefix);
                LogKeyVersionWentBack(key, revision);
            }
            NotifyLocked(prefix);
        }
        _cache.AfterApply(prefix, result.ContentChanged);
        if (!result.Refused && IsFresh)
        {
            _allConfirmed.TrySetResult();
        }
        return result;
    }

    /// <summary>The prefix's stream ended or went silent: its answers become unknown (with the last good values) until a new stream confirms it.</summary>
    internal void MarkStale(string prefix, string why)
    {
        lock (_gate)
        {
            if (View.MarkStale(prefix))
            {
                LogStale(prefix, why);
            }
            else
            {
                LogWatchFailed(prefix, why);
            }
            NotifyLocked(prefix);
        }
    }

    internal void ReportMalformed(string key, long version, string problem)
    {
        _malformedNow[key] = version;
        Interlocked.Increment(ref _malformedValues);
        _metrics.MalformedValue(key);
        LogMalformed(key, version, problem);
    }

    internal void ReportWellFormed(string key) => _malformedNow.TryRemove(key, out _);

    private void NotifyLocked(string prefix)
    {
        foreach (var subscription in _subscriptions.Where(subscription => subscription.Prefix == prefix).ToList())
        {
            var answer = View.Answer(subscription.Key);
            if (answer == subscription.Last)
            {
                continue;
            }
            subscription.Last = answer;
            try
            {
                subscription.OnChange(answer);
            }
#pragma warning disable CA1031 // A consumer's failing callback is logged; it must not stop the watch or the other consumers.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogWatcherFailed(subscription.Key, error);
            }
        }
    }

    /// <summary>Runs one prefix's watch for the client's lifetime; a loop that fails unexpectedly is logged and run again.</summary>
    private Task RunLoopAsync(ConfigPrefixWatcher watcher, CancellationToken stopping) => Task.Run(async () =>
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await watcher.RunAsync(stopping).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A watch loop that died quietly would leave the process on stale values without a word.
            catch (Exception error) when (!stopping.IsCancellationRequested)
#pragma warning restore CA1031
            {
                LogLoopFailed(watcher.Prefix, error);
                MarkStale(watcher.Prefix, error.Message);
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(_options.ReconnectPauseMaxMilliseconds), _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }, CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        // Disposed by the container once as a singleton and once as a hosted service.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _stopping.Dispose();
        _metrics.Dispose();
    }

    private sealed class Subscription(ConfigValues owner, string key, string prefix, Action<ConfigAnswer> onChange) : IDisposable
    {
        public string Key => key;

        public string Prefix => prefix;

        public Action<ConfigAnswer> OnChange => onChange;

        /// <summary>The answer last given; guarded by the owner's gate.</summary>
        public ConfigAnswer? Last { get; set; }

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._subscriptions.Remove(this);
            }
        }
    }

    [LoggerMessage(EventId = 4601, Level = LogLevel.Information, Message = "Configuration confirmed by the config service for {Prefixes} prefix(es)")]
    private partial void LogStartedFresh(int prefixes);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Warning, Message = "Config service has not confirmed {Prefixes} within {Seconds} s of start: going on with {Keys} last good value(s) from {Path}; the watch keeps trying")]
    private partial void LogStartedFromCache(string prefixes, double seconds, int keys, string path);

    [LoggerMessage(EventId = 4603, Level = LogLevel.Warning, Message = "Config service has not confirmed {Prefixes} within {Seconds} s of start and there is no cache of last good values: settings use their defaults until it does; the watch keeps trying")]
    private partial void LogStartedWithNothing(string prefixes, double seconds);

    [LoggerMessage(EventId = 4604, Level = LogLevel.Error, Message = "ALERT config service answered for '{Prefix}' at revision {Revision}, below revision {Highest} this process has seen (a store restored from an old backup?): answers refused, last good values kept")]
    private partial void LogRevisionWentBack(string prefix, long revision, long highest);

    [LoggerMessage(EventId = 4605, Level = LogLevel.Warning, Message = "ALERT config service's view of '{Prefix}' at revision {Revision} lacks '{Key}', which this process holds a value for, without a tombstone: not believed, last good value kept")]
    private partial void LogUntrustedNotFound(string key, string prefix, long revision);

    [LoggerMessage(EventId = 4606, Level = LogLevel.Error, Message = "ALERT config service sent '{Key}' at a version below the one held (answer at revision {Revision}): the held value is kept")]
    private partial void LogKeyVersionWentBack(string key, long revision);

    [LoggerMessage(EventId = 4607, Level = LogLevel.Warning, Message = "Configuration under '{Prefix}' stale ({Why}): serving the last good values until the config service confirms them")]
    private partial void LogStale(string prefix, string why);

    [LoggerMessage(EventId = 4608, Level = LogLevel.Debug, Message = "Config watch of '{Prefix}' ended again: {Why}")]
    private partial void LogWatchFailed(string prefix, string why);

    [LoggerMessage(EventId = 4609, Level = LogLevel.Error, Message = "ALERT configuration value of '{Key}' (version {Version}) is malformed ({Problem}): the last good value is kept")]
    private partial void LogMalformed(string key, long version, string problem);

    [LoggerMessage(EventId = 4610, Level = LogLevel.Error, Message = "A consumer's configuration callback for '{Key}' failed")]
    private partial void LogWatcherFailed(string key, Exception error);

    [LoggerMessage(EventId = 4617, Level = LogLevel.Error, Message = "Config watch loop of '{Prefix}' failed; starting it again")]
    private partial void LogLoopFailed(string prefix, Exception error);
}
