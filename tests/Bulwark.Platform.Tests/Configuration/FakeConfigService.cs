using System.Collections.Concurrent;
using System.Threading.Channels;
using Bulwark.Config.Protos;
using Grpc.Core;

namespace Bulwark.Platform.Tests.Configuration;

/// <summary>
/// A configuration service for the client's tests: the contract's own server base, a versioned
/// store with tombstones and a change log, and a watch that resumes, resynchronises (in chunks) and
/// sends progress events. Tests make it fail as real stores do: lose keys (answer NOT_FOUND for a
/// key that exists and leave it out of snapshots: 2019), go silent without closing, stall in the
/// middle of a snapshot, or be restored from an old backup (its revision goes back).
/// </summary>
public sealed class FakeConfigService(TimeProvider time) : Bulwark.Config.Protos.Config.ConfigBase
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _latest = new(StringComparer.Ordinal);
    private readonly List<Entry> _changes = [];
    private readonly List<(string Prefix, Channel<WatchEvent> Events)> _streams = [];
    private readonly CancellationTokenSource _shutdown = new();
    private int _getCalls;

    /// <summary>The store's revision: that of its latest change.</summary>
    public long Revision { get; private set; }

    /// <summary>Watches from below this revision start with a RESYNC snapshot, as after a compaction.</summary>
    public long CompactedRevision { get; set; }

    /// <summary>Keys the store has lost (2019): NOT_FOUND on Get, left out of snapshots, while they still exist.</summary>
    public ConcurrentDictionary<string, bool> Lost { get; } = new(StringComparer.Ordinal);

    /// <summary>After its first events a stream sends nothing more (no change, no progress) and never closes.</summary>
    public bool Silent { get; set; }

    /// <summary>Entries per RESYNC event; a larger snapshot comes in several, with <c>more</c>.</summary>
    public int ChunkSize { get; set; } = 1000;

    /// <summary>A snapshot stops after its first chunk: the stream stays open and silent.</summary>
    public bool StallAfterFirstChunk { get; set; }

    /// <summary>Every watch asked for, in order.</summary>
    public ConcurrentQueue<WatchRequest> Watches { get; } = new();

    public int GetCalls => Volatile.Read(ref _getCalls);

    public Entry Put(string key, string value) => Change(new Entry { Key = key, Value = value });

    public Entry Delete(string key) => Change(new Entry { Key = key, Deleted = true });

    /// <summary>As a store restored from an old backup: every change after <paramref name="revision"/> is forgotten.</summary>
    public void RestoreTo(long revision)
    {
        lock (_lock)
        {
            _changes.RemoveAll(change => change.Version > revision);
            _latest.Clear();
            foreach (var change in _changes)
            {
                _latest[change.Key] = change;
            }
            Revision = revision;
            CompactedRevision = 0;
        }
    }

    /// <summary>Ends every open stream normally, as a restart of the service does.</summary>
    public void EndStreams()
    {
        lock (_lock)
        {
            foreach (var (_, events) in _streams)
            {
                events.Writer.TryComplete();
            }
        }
    }

    /// <summary>Ends every stream, silent ones included, so the host stops at once.</summary>
    public void Shutdown() => _shutdown.Cancel();

    public override Task<GetResponse> Get(GetRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _getCalls);
        lock (_lock)
        {
            if (Lost.ContainsKey(request.Key) || !_latest.TryGetValue(request.Key, out var entry))
            {
                throw new RpcException(new Status(StatusCode.NotFound, $"no key '{request.Key}'"));
            }
            return Task.FromResult(new GetResponse { Entry = entry, Revision = Revision });
        }
    }

    public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchEvent> responseStream, ServerCallContext context)
    {
        Watches.Enqueue(request.Clone());
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _shutdown.Token);
        var events = Channel.CreateUnbounded<WatchEvent>();
        List<WatchEvent> first;
        lock (_lock)
        {
            var resync = request.FromRevision == 0 || request.FromRevision < CompactedRevision || request.FromRevision > Revision;
            first = resync ? SnapshotLocked(request.Prefix) : CatchUpLocked(request.Prefix, request.FromRevision);
            _streams.Add((request.Prefix, events));
        }
        try
        {
            foreach (var watchEvent in first)
            {
                await responseStream.WriteAsync(watchEvent, ended.Token);
                if (StallAfterFirstChunk && watchEvent.More)
                {
                    await Task.Delay(Timeout.Infinite, ended.Token);
                }
            }
            if (Silent)
            {
                await Task.Delay(Timeout.Infinite, ended.Token);
            }
            await ForwardAsync(request, events.Reader, responseStream, ended.Token);
        }
        catch (OperationCanceledException)
        {
            // The client went away or the host is stopping.
        }
        finally
        {
            lock (_lock)
            {
                _streams.RemoveAll(stream => stream.Events == events);
            }
        }
    }

    /// <summary>Changes as they commit, and a progress event whenever the interval passes without one.</summary>
    private async Task ForwardAsync(WatchRequest request, ChannelReader<WatchEvent> events, IServerStreamWriter<WatchEvent> responseStream, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromMilliseconds(request.ProgressIntervalMs > 0 ? request.ProgressIntervalMs : 5000);
        while (true)
        {
            using var round = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var ready = events.WaitToReadAsync(round.Token).AsTask();
            var tick = Task.Delay(interval, time, round.Token);
            var first = await Task.WhenAny(ready, tick);
            await round.CancelAsync();
            if (first == ready)
            {
                if (!await ready)
                {
                    return;
                }
                while (events.TryRead(out var watchEvent))
                {
                    await responseStream.WriteAsync(watchEvent, cancellationToken);
                }
            }
            else
            {
                cancellationToken.ThrowIfCancellationRequested();
                long revision;
                lock (_lock)
                {
                    revision = Revision;
                }
                if (!Silent)
                {
                    await responseStream.WriteAsync(new WatchEvent { Kind = WatchEventKind.Progress, Revision = revision }, cancellationToken);
                }
            }
        }
    }

    private Entry Change(Entry entry)
    {
        lock (_lock)
        {
            Revision++;
            entry.Version = Revision;
            entry.ChangedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            entry.ChangedBy = "test";
            entry.Reason = "test";
            _latest[entry.Key] = entry;
            _changes.Add(entry);
            foreach (var (prefix, events) in _streams)
            {
                if (entry.Key.StartsWith(prefix, StringComparison.Ordinal) && !Silent)
                {
                    events.Writer.TryWrite(new WatchEvent { Kind = WatchEventKind.Change, Entry = entry.Clone(), Revision = entry.Version });
                }
            }
            return entry.Clone();
        }
    }

    private List<WatchEvent> SnapshotLocked(string prefix)
    {
        var entries = _latest.Values
            .Where(entry => entry.Key.StartsWith(prefix, StringComparison.Ordinal) && !Lost.ContainsKey(entry.Key))
            .OrderBy(entry => entry.Key, StringComparer.Ordinal)
            .Select(entry => entry.Clone())
            .ToList();
        var chunks = entries.Chunk(ChunkSize).ToList();
        if (chunks.Count == 0)
        {
            chunks.Add([]);
        }
        return [.. chunks.Select((chunk, index) => new WatchEvent
        {
            Kind = WatchEventKind.Resync,
            Revision = Revision,
            Snapshot = { chunk },
            More = index < chunks.Count - 1,
        })];
    }

    /// <summary>The changes after <paramref name="from"/>, then a progress event: the watcher is current.</summary>
    private List<WatchEvent> CatchUpLocked(string prefix, long from)
    {
        List<WatchEvent> events = [.. _changes
            .Where(change => change.Version > from && change.Key.StartsWith(prefix, StringComparison.Ordinal))
            .Select(change => new WatchEvent { Kind = WatchEventKind.Change, Entry = change.Clone(), Revision = change.Version })];
        events.Add(new WatchEvent { Kind = WatchEventKind.Progress, Revision = Revision });
        return events;
    }
}
