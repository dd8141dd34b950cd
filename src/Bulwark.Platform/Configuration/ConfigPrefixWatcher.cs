using Bulwark.Config.Protos;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using ConfigServiceClient = Bulwark.Config.Protos.Config.ConfigClient;

namespace Bulwark.Platform.Configuration;

/// <summary>
/// One watch stream of one prefix, for the client's lifetime: it resumes from the highest revision
/// seen, assembles chunked RESYNC snapshots and hands them over only once complete, and ends a
/// stream that has been silent past the staleness bound (no change, progress or snapshot: the 2017
/// watch that stalled without closing). Every failure leads to the prefix being marked stale and the
/// stream being opened again after a pause that doubles up to a bound. It never touches a reader:
/// readers are answered from the <see cref="ConfigView"/> in memory.
/// </summary>
internal sealed partial class ConfigPrefixWatcher(
    string prefix,
    ConfigServiceClient client,
    ConfigValues owner,
    ConfigClientOptions options,
    ConfigClientMetrics metrics,
    TimeProvider time,
    ILogger logger)
{
    private long _stalls;
    private long _reconnects;

    public string Prefix => prefix;

    /// <summary>Streams found silent past the staleness bound.</summary>
    public long Stalls => Interlocked.Read(ref _stalls);

    /// <summary>Streams opened again after one ended or failed.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    public async Task RunAsync(CancellationToken stopping)
    {
        var pauseMin = TimeSpan.FromMilliseconds(options.ReconnectPauseMinMilliseconds);
        var pauseMax = TimeSpan.FromMilliseconds(options.ReconnectPauseMaxMilliseconds);
        var pause = pauseMin;
        while (!stopping.IsCancellationRequested)
        {
            var (why, confirmed) = await WatchOnceAsync(stopping).ConfigureAwait(false);
            if (stopping.IsCancellationRequested)
            {
                return;
            }
            owner.MarkStale(prefix, why);
            // A stream that confirmed the view was healthy until it ended: the next starts after the
            // shortest pause. Failures in a row wait longer and longer, to a bound.
            pause = confirmed ? pauseMin : pause;
            try
            {
                await Task.Delay(pause, time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            pause = pause * 2 < pauseMax ? pause * 2 : pauseMax;
            Interlocked.Increment(ref _reconnects);
            metrics.Reconnected(prefix);
        }
    }

    /// <summary>One stream, from the highest revision seen. Returns why it ended and whether it confirmed the view at least once.</summary>
    private async Task<(string Why, bool Confirmed)> WatchOnceAsync(CancellationToken stopping)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var staleAfter = options.StaleAfter;
        var lastEvent = time.GetTimestamp();
        var stalled = 0;
        var confirmed = false;
        var watchdog = Task.Run(async () =>
        {
            var tick = TimeSpan.FromMilliseconds(Math.Min(ConfigClientLimits.WatchdogTickMillisecondsMax, staleAfter.TotalMilliseconds / 4));
            while (!attempt.IsCancellationRequested)
            {
                await Task.Delay(tick, time, attempt.Token).ConfigureAwait(false);
                if (time.GetElapsedTime(Interlocked.Read(ref lastEvent)) > staleAfter)
                {
                    Interlocked.Exchange(ref stalled, 1);
                    await attempt.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }, CancellationToken.None);
        try
        {
            var from = owner.View.RevisionOf(prefix);
            using var call = client.Watch(new WatchRequest
            {
                Prefix = prefix,
                FromRevision = from,
                ProgressIntervalMs = options.ProgressIntervalMilliseconds,
            }, cancellationToken: attempt.Token);
            LogWatching(prefix, from);
            List<ConfigEntry>? snapshot = null;
            long snapshotRevision = 0;
            while (await call.ResponseStream.MoveNext(attempt.Token).ConfigureAwait(false))
            {
                Interlocked.Exchange(ref lastEvent, time.GetTimestamp());
                var watchEvent = call.ResponseStream.Current;
                ConfigApplyResult result;
                if (watchEvent.Kind == WatchEventKind.Resync)
                {
                    if (snapshot is not null && watchEvent.Revision != snapshotRevision)
                    {
                        return ($"a snapshot's chunks came at revisions {snapshotRevision} and {watchEvent.Revision}", confirmed);
                    }
                    snapshot ??= [];
                    snapshotRevision = watchEvent.Revision;
                    if (snapshot.Count + watchEvent.Snapshot.Count > ConfigClientLimits.SnapshotEntriesMax)
                    {
                        return ($"a snapshot of more than {ConfigClientLimits.SnapshotEntriesMax} keys", confirmed);
                    }
                    snapshot.AddRange(watchEvent.Snapshot.Select(ToEntry));
                    if (watchEvent.More)
                    {
                        continue;
                    }
                    var complete = snapshot;
                    snapshot = null;
                    result = owner.Apply(prefix, view => view.ApplyResync(prefix, complete, snapshotRevision), snapshotRevision);
                }
                else if (snapshot is not null)
                {
                    return ($"a {watchEvent.Kind} event inside a chunked snapshot", confirmed);
                }
                else if (watchEvent.Kind == WatchEventKind.Change && watchEvent.Entry is { } entry)
                {
                    result = owner.Apply(prefix, view => view.ApplyChange(prefix, ToEntry(entry)), entry.Version);
                }
                else if (watchEvent.Kind == WatchEventKind.Progress)
                {
                    result = owner.Apply(prefix, view => view.ApplyProgress(prefix, watchEvent.Revision), watchEvent.Revision);
                }
                else
                {
                    // A kind this client does not know (a newer server) is skipped, not fatal; it still shows the stream is alive.
                    LogUnknownEvent(prefix, watchEvent.Kind.ToString());
                    continue;
                }
                if (result.Refused)
                {
                    return ("its revision went back: answers refused", confirmed);
                }
                confirmed = true;
            }
            return ("the stream ended", confirmed);
        }
        catch (Exception) when (Volatile.Read(ref stalled) == 1 && !stopping.IsCancellationRequested)
        {
            Interlocked.Increment(ref _stalls);
            metrics.WatchStalled(prefix);
            LogStalled(prefix, staleAfter.TotalSeconds);
            return ($"nothing from the config service for {staleAfter.TotalSeconds:0.#} s", confirmed);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.OutOfRange && !stopping.IsCancellationRequested)
        {
            // The service's store is behind what this client has seen: its answers are the restored
            // backup's (a key we hold may be "not found" there). Counted and alerted as a revision that went back.
            owner.Apply(prefix, view => view.RefuseStoreBehind(prefix), 0);
            return ($"its store is behind revision {owner.View.RevisionOf(prefix)} seen here: {error.Status.Detail}", confirmed);
        }
        catch (RpcException error) when (!stopping.IsCancellationRequested)
        {
            return ($"{error.StatusCode}: {error.Status.Detail}", confirmed);
        }
        catch (Exception error) when (!stopping.IsCancellationRequested)
        {
            return (error.Message, confirmed);
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            return ("stopping", confirmed);
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

    private static ConfigEntry ToEntry(Entry entry) => new(entry.Key, entry.Deleted ? "" : entry.Value, entry.Version, entry.Deleted);

    [LoggerMessage(EventId = 4611, Level = LogLevel.Debug, Message = "Watching configuration under '{Prefix}' from revision {Revision}")]
    private partial void LogWatching(string prefix, long revision);

    [LoggerMessage(EventId = 4612, Level = LogLevel.Error, Message = "ALERT config watch of '{Prefix}' stalled: nothing from the config service for {Seconds} s; watching again, serving the last good values")]
    private partial void LogStalled(string prefix, double seconds);

    [LoggerMessage(EventId = 4613, Level = LogLevel.Debug, Message = "Config watch of '{Prefix}': event of unknown kind {Kind} skipped")]
    private partial void LogUnknownEvent(string prefix, string kind);
}
