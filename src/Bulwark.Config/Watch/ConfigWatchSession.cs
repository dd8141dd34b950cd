using System.Globalization;
using Bulwark.Config.Grpc;
using Bulwark.Config.Protos;
using Bulwark.Config.Storage;
using Bulwark.Config.Telemetry;
using Bulwark.Config.Validation;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Config.Watch;

/// <summary>
/// One watch stream. It pulls from the store rather than being pushed to: it reads the changes
/// after the last revision it sent, a batch at a time, writes them, and when it has caught up
/// waits for <see cref="ConfigChangeSignal"/> or its next progress event. So a watcher holds at
/// most one batch and one snapshot chunk, however far behind it is, and a slow reader only slows
/// itself; one that stops reading altogether is ended with RESOURCE_EXHAUSTED after
/// <see cref="ConfigOptions.WatchWriteStallTimeout"/> and resumes from the last revision it got.
/// </summary>
internal sealed partial class ConfigWatchSession(IConfigStore store, ConfigChangeSignal signal, ConfigOptions options, ConfigMetrics metrics,
    TimeProvider time, ILogger<ConfigWatchSession> logger)
{
    /// <summary>Streams what <paramref name="request"/> (already validated) asks for until the call ends.</summary>
    public async Task RunAsync(WatchRequest request, IServerStreamWriter<WatchEvent> stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(stream);
        var progressInterval = TimeSpan.FromMilliseconds(request.ProgressIntervalMs == 0 ? ConfigLimits.ProgressIntervalMillisecondsDefault : request.ProgressIntervalMs);
        var state = await store.StateAsync(cancellationToken);
        metrics.ObserveRevision(state.Revision);
        if (request.FromRevision > state.Revision)
        {
            // The store went back (restored or replaced): a snapshot would tell the watcher that
            // what it holds is gone. It keeps what it has and hears why (R14).
            throw ConfigErrors.OutOfRange(string.Create(CultureInfo.InvariantCulture,
                $"from_revision {request.FromRevision} is above this store's revision {state.Revision}: the store was restored or replaced. Keep the values you hold and alert; resume with from_revision 0 only once the store is known to be right."));
        }
        var position = request.FromRevision;
        if (request.FromRevision == 0 || request.FromRevision < state.CompactedRevision)
        {
            position = await ResyncAsync(request.Prefix, state.Revision, stream, cancellationToken);
        }
        await FollowAsync(request.Prefix, position, progressInterval, stream, cancellationToken);
    }

    private async Task FollowAsync(string prefix, long position, TimeSpan progressInterval, IServerStreamWriter<WatchEvent> stream, CancellationToken cancellationToken)
    {
        var lastSent = time.GetTimestamp();
        while (true)
        {
            // Taken before the read: a commit between the read and the wait still wakes this watcher.
            var woken = signal.Next;
            var batch = await store.ChangesAfterAsync(prefix, position, ConfigLimits.WatchBatchChangesMax, cancellationToken);
            foreach (var change in batch.Changes)
            {
                await WriteAsync(stream, new WatchEvent { Kind = WatchEventKind.Change, Entry = ConfigGrpcService.ToProto(change), Revision = change.Revision }, cancellationToken);
                lastSent = time.GetTimestamp();
            }
            metrics.ObserveRevision(batch.State.Revision);
            if (batch.Changes.Count == ConfigLimits.WatchBatchChangesMax)
            {
                position = batch.Changes[^1].Revision;
                continue;
            }
            // Caught up: everything under the prefix up to the store's revision has been sent.
            position = batch.State.Revision;
            var due = progressInterval - time.GetElapsedTime(lastSent);
            if (due <= TimeSpan.Zero)
            {
                await WriteAsync(stream, new WatchEvent { Kind = WatchEventKind.Progress, Revision = position }, cancellationToken);
                lastSent = time.GetTimestamp();
                due = progressInterval;
            }
            // The timer is cancelled when a change wakes the watcher first, so a busy store leaves no timers behind.
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                await Task.WhenAny(woken, Task.Delay(due, time, wait.Token));
                await wait.CancelAsync();
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Sends every key under the prefix at <paramref name="revision"/> as RESYNC events of at most
    /// <see cref="ConfigLimits.PageBytesMax"/> each (<c>more</c> on all but the last); returns the revision.
    /// </summary>
    private async Task<long> ResyncAsync(string prefix, long revision, IServerStreamWriter<WatchEvent> stream, CancellationToken cancellationToken)
    {
        var chunk = new WatchEvent { Kind = WatchEventKind.Resync, Revision = revision };
        var chunkBytes = 0;
        // An empty store's snapshot is empty; reading it "at revision 0" would read whatever is there now.
        var afterKey = "";
        var more = revision > 0;
        while (more)
        {
            var page = await store.ListAsync(prefix, afterKey, ConfigLimits.ListLimitMax, revision, cancellationToken);
            if (page.Compacted)
            {
                throw ConfigErrors.Aborted(string.Create(CultureInfo.InvariantCulture,
                    $"the store was compacted past revision {revision} while its snapshot was being sent; watch again from revision 0."));
            }
            foreach (var entry in page.Entries.Select(ConfigGrpcService.ToProto))
            {
                var size = entry.CalculateSize();
                if (chunk.Snapshot.Count > 0 && chunkBytes + size > ConfigLimits.PageBytesMax)
                {
                    chunk.More = true;
                    await WriteAsync(stream, chunk, cancellationToken);
                    chunk = new WatchEvent { Kind = WatchEventKind.Resync, Revision = revision };
                    chunkBytes = 0;
                }
                chunk.Snapshot.Add(entry);
                chunkBytes += size;
            }
            more = page.More;
            afterKey = more ? page.Entries[^1].Key : afterKey;
        }
        await WriteAsync(stream, chunk, cancellationToken);
        return revision;
    }

    /// <summary>
    /// Writes one event. When the watcher has not taken it within the stall timeout (HTTP/2 flow
    /// control holds the write because the watcher stopped reading), the watch is over: if the
    /// watcher takes the pending event within one more timeout, it hears RESOURCE_EXHAUSTED after
    /// what was already sent; if not, the stream is reset (it sees CANCELLED whenever it reads
    /// again). Either way it resumes from the last revision it received. A status cannot overtake
    /// the events queued before it, so it can only be given to a watcher that reads again.
    /// </summary>
    private async Task WriteAsync(IServerStreamWriter<WatchEvent> stream, WatchEvent watchEvent, CancellationToken cancellationToken)
    {
        using var reset = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var write = stream.WriteAsync(watchEvent, reset.Token);
        if (await FinishesWithinAsync(write, cancellationToken))
        {
            return;
        }
        metrics.RecordWatchEnded("slow");
        var seconds = options.WatchWriteStallTimeout.TotalSeconds;
        LogSlowWatcherEnded(seconds);
        if (!await FinishesWithinAsync(write, cancellationToken))
        {
            await reset.CancelAsync();
            try
            {
                await write;
            }
            catch (Exception error) when (error is OperationCanceledException or InvalidOperationException or IOException)
            {
                // The reset write; the watcher is gone or will see the reset.
            }
        }
        throw ConfigErrors.ResourceExhausted(string.Create(CultureInfo.InvariantCulture,
            $"the watcher did not take an event for {seconds:0.###} s and was ended; watch again from the last revision you received."));
    }

    /// <summary>True when <paramref name="write"/> completes within the stall timeout (its failure is thrown).</summary>
    private async Task<bool> FinishesWithinAsync(Task write, CancellationToken cancellationToken)
    {
        try
        {
            await write.WaitAsync(options.WatchWriteStallTimeout, time, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Ended a configuration watch whose watcher did not read for {Seconds} s")]
    private partial void LogSlowWatcherEnded(double seconds);
}
