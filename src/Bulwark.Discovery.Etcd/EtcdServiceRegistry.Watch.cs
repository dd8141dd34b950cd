using Bulwark.Discovery.Etcd.Api;
using Bulwark.Discovery.Etcd.Discovery;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Discovery.Etcd;

/// <summary>Rule R3: the watch, its stall detection, and resuming on another member.</summary>
public sealed partial class EtcdServiceRegistry
{
    private const int ReconnectBackoffMillisecondsMax = 2000;

    /// <summary>Reads every record under the prefix at one revision and replaces the copy.</summary>
    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        var response = await _cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = PrefixKey, RangeEnd = PrefixEnd }, options).ResponseAsync,
            cancellationToken).ConfigureAwait(false);
        ApplyResync(response);
    }

    /// <summary>The start-up read: every member asked at once, the first answer taken, within <paramref name="deadline"/>.</summary>
    private async Task ResyncFromFirstAnswerAsync(TimeSpan deadline, CancellationToken cancellationToken)
    {
        var response = await _cluster.CallFirstAsync(
            (channel, options) => new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = PrefixKey, RangeEnd = PrefixEnd }, options).ResponseAsync,
            deadline, cancellationToken).ConfigureAwait(false);
        ApplyResync(response);
    }

    private void ApplyResync(RangeResponse response)
    {
        lock (_lock)
        {
            var previous = new Dictionary<string, byte[]>(_records, StringComparer.Ordinal);
            _records.Clear();
            foreach (var kv in response.Kvs)
            {
                var key = kv.Key.ToStringUtf8();
                var value = kv.Value.ToByteArray();
                _records[key] = value;
                if (!previous.TryGetValue(key, out var old) || !old.AsSpan().SequenceEqual(value))
                {
                    CountIfUnusable(key, value);
                }
            }
            _revision = response.Header.Revision;
            _needResync = false;
        }
        Interlocked.Increment(ref _resyncs);
        MarkFresh();
        LogResynced(response.Kvs.Count, response.Header.Revision, _cluster.Current);
    }

    private void MarkFresh()
    {
        Interlocked.Exchange(ref _lastConfirmedTimestamp, _time.GetTimestamp());
        lock (_lock)
        {
            _fresh = true;
            _hasView = true;
        }
        Recompute();
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
            LogStale(why, StaleSeconds);
            Recompute();
        }
    }

    private async Task RunDiscoveryAsync(CancellationToken cancellationToken)
    {
        var backoff = 100;
        while (!cancellationToken.IsCancellationRequested)
        {
            var endpoint = _cluster.Current;
            string why;
            try
            {
                bool needResync;
                lock (_lock)
                {
                    needResync = _needResync;
                }
                if (needResync)
                {
                    await ResyncAsync(cancellationToken).ConfigureAwait(false);
                    endpoint = _cluster.Current;
                }
                why = await WatchOnceAsync(endpoint, cancellationToken).ConfigureAwait(false);
                backoff = 100;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (EtcdCluster.IsNotAnswering(exception))
            {
                why = exception.Message;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            MarkStale(why);
            _cluster.Failover(endpoint, why);
            Interlocked.Increment(ref _reconnects);
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(backoff), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = Math.Min(backoff * 2, ReconnectBackoffMillisecondsMax);
        }
    }

    /// <summary>
    /// Watches the whole prefix from the revision after the last one applied, with progress
    /// notifications on and a progress request every interval. A watchdog ends the watch when
    /// nothing (event, progress, creation) arrives within the stale threshold: a stream that is
    /// open but silent is the 2017 failure, and it is treated as broken. Returns why it ended.
    /// </summary>
    private async Task<string> WatchOnceAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var lastMessage = _time.GetTimestamp();
        var created = 0;
        var stalled = 0;
        using var call = new Watch.WatchClient(_cluster.CurrentChannel).Watch(cancellationToken: watch.Token);
        var watchdog = Task.Run(async () =>
        {
            Task? pendingWrite = null;
            var interval = TimeSpan.FromSeconds(_options.ProgressRequestIntervalSeconds);
            var staleAfter = TimeSpan.FromSeconds(_options.StaleAfterSeconds);
            var tick = TimeSpan.FromMilliseconds(Math.Min(250, interval.TotalMilliseconds));
            var lastRequest = _time.GetTimestamp();
            while (!watch.IsCancellationRequested)
            {
                await Task.Delay(tick, _time, watch.Token).ConfigureAwait(false);
                if (_time.GetElapsedTime(Interlocked.Read(ref lastMessage)) > staleAfter)
                {
                    Interlocked.Exchange(ref stalled, 1);
                    await watch.CancelAsync().ConfigureAwait(false);
                    return;
                }
                if (Volatile.Read(ref created) == 1 && _time.GetElapsedTime(lastRequest) >= interval
                    && (pendingWrite is null || pendingWrite.IsCompleted))
                {
                    lastRequest = _time.GetTimestamp();
                    // Never awaited here: on a silent connection the write may never finish, and
                    // the watchdog must keep counting.
                    pendingWrite = call.RequestStream.WriteAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() }, watch.Token);
                }
            }
        }, CancellationToken.None);

        try
        {
            long startRevision;
            lock (_lock)
            {
                startRevision = _revision + 1;
            }
            await call.RequestStream.WriteAsync(new WatchRequest
            {
                CreateRequest = new WatchCreateRequest { Key = PrefixKey, RangeEnd = PrefixEnd, StartRevision = startRevision, ProgressNotify = true },
            }, watch.Token).ConfigureAwait(false);
            while (await call.ResponseStream.MoveNext(watch.Token).ConfigureAwait(false))
            {
                Interlocked.Exchange(ref lastMessage, _time.GetTimestamp());
                var response = call.ResponseStream.Current;
                if (response.Canceled)
                {
                    if (response.CompactRevision > 0)
                    {
                        lock (_lock)
                        {
                            _needResync = true;
                        }
                        LogCompacted(response.CompactRevision);
                        return $"revision compacted to {response.CompactRevision}: full resync";
                    }
                    return $"watch cancelled by etcd: {response.CancelReason}";
                }
                if (response.Created)
                {
                    Volatile.Write(ref created, 1);
                    LogWatching(endpoint, startRevision);
                }
                Apply(response);
            }
            return "watch stream ended";
        }
        catch (Exception) when (Volatile.Read(ref stalled) == 1 && !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _stalls);
            var why = $"no event or progress notification from {endpoint} for {_options.StaleAfterSeconds:0.#} s";
            LogStalled(endpoint, _options.StaleAfterSeconds);
            return why;
        }
        finally
        {
            await watch.CancelAsync().ConfigureAwait(false);
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

    /// <summary>Applies one watch response: events, or a progress notification that confirms the view.</summary>
    private void Apply(WatchResponse response)
    {
        lock (_lock)
        {
            foreach (var change in response.Events)
            {
                var key = change.Kv.Key.ToStringUtf8();
                if (change.Type == Event.Types.EventType.Delete)
                {
                    _records.Remove(key);
                }
                else
                {
                    var value = change.Kv.Value.ToByteArray();
                    _records[key] = value;
                    CountIfUnusable(key, value);
                }
                _revision = Math.Max(_revision, change.Kv.ModRevision);
            }
            if (response.Events.Count == 0 && !response.Created && response.Header is not null)
            {
                // A progress notification: every event up to this revision has been delivered.
                _revision = Math.Max(_revision, response.Header.Revision);
            }
        }
        MarkFresh();
    }

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "Discovery resynced: {Records} records at revision {Revision} from {Member}")]
    private partial void LogResynced(int records, long revision, Uri member);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Information, Message = "Watching on {Member} from revision {Revision}")]
    private partial void LogWatching(Uri member, long revision);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Error, Message = "ALERT discovery watch stalled: nothing from {Member} for {Seconds} s; reconnecting to another member, routing on the last known good view")]
    private partial void LogStalled(Uri member, double seconds);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "Discovery stale ({Why}), {Seconds:0.0} s since last confirmation; endpoints are kept (fail static)")]
    private partial void LogStale(string why, double seconds);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Warning, Message = "Watch start revision compacted (now {Revision}); full resync")]
    private partial void LogCompacted(long revision);
}
