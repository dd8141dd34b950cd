using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Bulwark.Discovery.Etcd.Api;
using Bulwark.Platform.Placement;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Bulwark.Discovery.Etcd.Placement;

/// <summary>
/// The placement map of a cluster: one etcd key (<c>/bulwark/placement/map</c>), changed only by
/// a transaction that compares the key's mod revision with the one the writer read, so two
/// writers (two moves, a move and an operator) can never both win. The store's revision of the
/// map is the key's mod revision. Calls go through <see cref="EtcdCluster"/> (any member that
/// answers; a member that does not is left for the next). The watch has discovery's resilience
/// (R3): progress notifications asked for every interval confirm the map, a watch that hears
/// nothing within the stale threshold is taken as broken and moved to another member, and a
/// compacted start revision starts over from a fresh read.
/// </summary>
public sealed partial class EtcdPlacementStore(EtcdCluster cluster, TimeProvider time, ILogger<EtcdPlacementStore> logger, EtcdPlacementStoreOptions? options = null)
    : IPlacementStore
{
    private readonly EtcdPlacementStoreOptions _options = Validated(options ?? new EtcdPlacementStoreOptions());
    private readonly ByteString _key = ByteString.CopyFromUtf8((options ?? new EtcdPlacementStoreOptions()).Key);

    public async Task<PlacementRead?> ReadAsync(CancellationToken cancellationToken) =>
        ReadOf(await RangeAsync(cancellationToken).ConfigureAwait(false));

    public async Task<PlacementRead> CreateIfAbsentAsync(PlacementMap map, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(map);
        var value = ByteString.CopyFrom(PlacementMapCodec.Encode(map));
        // create_revision == 0: the key does not exist.
        var absent = new Compare { Key = _key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 };
        var response = await TxnAsync(absent, value, cancellationToken).ConfigureAwait(false);
        if (response.Succeeded)
        {
            LogCreated(map.Version, response.Header.Revision);
            return new PlacementRead(response.Header.Revision, map, null);
        }
        return ReadOf(response.Responses[0].ResponseRange)
            ?? throw new EtcdUnavailableException("the placement map key was there at the compare and gone at the read; try again", null);
    }

    public async Task<PlacementWriteResult> ReplaceAsync(PlacementRead expected, PlacementMap next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(next);
        PlacementStoreRules.CheckSuccessor(expected, next);
        var value = ByteString.CopyFrom(PlacementMapCodec.Encode(next));
        var unchanged = new Compare { Key = _key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = expected.Revision };
        var response = await TxnAsync(unchanged, value, cancellationToken).ConfigureAwait(false);
        if (response.Succeeded)
        {
            LogReplaced(next.Version, response.Header.Revision);
            return new PlacementWriteResult(true, new PlacementRead(response.Header.Revision, next, null));
        }
        var current = response.Responses[0].ResponseRange;
        // The transaction may have been applied by a member whose answer was lost, then sent
        // again to another member: the stored value is then exactly ours, and it is our success.
        if (current.Kvs.Count == 1 && current.Kvs[0].Value.Equals(value))
        {
            return new PlacementWriteResult(true, new PlacementRead(current.Kvs[0].ModRevision, next, null));
        }
        return new PlacementWriteResult(false, ReadOf(current));
    }

    public async IAsyncEnumerable<PlacementRead?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Each item is the whole map, so a reader that falls behind needs only the newest.
        var reads = Channel.CreateBounded<PlacementRead?>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = Task.Run(() => PumpAsync(reads.Writer, stop.Token), CancellationToken.None);
        try
        {
            await foreach (var read in reads.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return read;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(false);
        }
    }

    /// <summary>Reads the key, then watches it from the next revision; ends the channel with the reason the watch stopped.</summary>
    private async Task PumpAsync(ChannelWriter<PlacementRead?> writer, CancellationToken cancellationToken)
    {
        Exception? ended = null;
        try
        {
            var range = await RangeAsync(cancellationToken).ConfigureAwait(false);
            var read = ReadOf(range);
            await writer.WriteAsync(read, cancellationToken).ConfigureAwait(false);
            await WatchFromAsync(writer, read, range.Header.Revision + 1, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            ended = error;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped by the reader (a cancelled gRPC call ends with its own CANCELLED status).
        }
        writer.TryComplete(ended);
    }

    private async Task WatchFromAsync(ChannelWriter<PlacementRead?> writer, PlacementRead? read, long startRevision, CancellationToken cancellationToken)
    {
        var endpoint = cluster.Current;
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var lastMessage = time.GetTimestamp();
        var stalled = 0;
        using var call = new Watch.WatchClient(cluster.CurrentChannel).Watch(cancellationToken: watch.Token);
        var watchdog = Task.Run(() => WatchdogAsync(call, watch, () => Interlocked.Read(ref lastMessage), () => Interlocked.Exchange(ref stalled, 1)), CancellationToken.None);
        try
        {
            await call.RequestStream.WriteAsync(new WatchRequest
            {
                CreateRequest = new WatchCreateRequest { Key = _key, StartRevision = startRevision, ProgressNotify = true },
            }, watch.Token).ConfigureAwait(false);
            while (await call.ResponseStream.MoveNext(watch.Token).ConfigureAwait(false))
            {
                Interlocked.Exchange(ref lastMessage, time.GetTimestamp());
                var response = call.ResponseStream.Current;
                if (response.Canceled)
                {
                    throw new EtcdUnavailableException(response.CompactRevision > 0
                        ? $"placement watch start revision compacted to {response.CompactRevision}: reading again"
                        : $"placement watch cancelled by etcd: {response.CancelReason}", null);
                }
                foreach (var change in response.Events)
                {
                    read = change.Type == Event.Types.EventType.Delete ? null : PlacementRead.Decode(change.Kv.ModRevision, change.Kv.Value.Span);
                }
                // An event, or a progress notification: either way the store confirms the map as it now is.
                await writer.WriteAsync(read, watch.Token).ConfigureAwait(false);
            }
            throw new EtcdUnavailableException("placement watch stream ended", null);
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            var why = Volatile.Read(ref stalled) == 1
                ? $"no event or progress notification from {endpoint} for {_options.StaleAfterSeconds:0.#} s"
                : EtcdCluster.Describe(error);
            cluster.Failover(endpoint, why);
            LogWatchEnded(endpoint, why);
            throw new EtcdUnavailableException(why, error);
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

    /// <summary>Asks for a progress notification every interval and ends the watch when nothing arrived within the stale threshold.</summary>
    private async Task WatchdogAsync(Grpc.Core.AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call, CancellationTokenSource watch, Func<long> lastMessage, Action markStalled)
    {
        Task? pendingWrite = null;
        var interval = TimeSpan.FromSeconds(_options.ProgressRequestIntervalSeconds);
        var staleAfter = TimeSpan.FromSeconds(_options.StaleAfterSeconds);
        var tick = TimeSpan.FromMilliseconds(Math.Min(250, interval.TotalMilliseconds));
        var lastRequest = time.GetTimestamp();
        while (!watch.IsCancellationRequested)
        {
            await Task.Delay(tick, time, watch.Token).ConfigureAwait(false);
            if (time.GetElapsedTime(lastMessage()) > staleAfter)
            {
                markStalled();
                await watch.CancelAsync().ConfigureAwait(false);
                return;
            }
            if (time.GetElapsedTime(lastRequest) >= interval && (pendingWrite is null || pendingWrite.IsCompleted))
            {
                lastRequest = time.GetTimestamp();
                // Never awaited: on a silent connection the write may never finish, and the watchdog must keep counting.
                pendingWrite = call.RequestStream.WriteAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() }, watch.Token);
            }
        }
    }

    private Task<RangeResponse> RangeAsync(CancellationToken cancellationToken) =>
        cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = _key }, options).ResponseAsync,
            cancellationToken);

    /// <summary>A transaction: if <paramref name="compare"/> holds, put <paramref name="value"/>; else read the key.</summary>
    private Task<TxnResponse> TxnAsync(Compare compare, ByteString value, CancellationToken cancellationToken) =>
        cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).TxnAsync(new TxnRequest
            {
                Compare = { compare },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = _key, Value = value } } },
                Failure = { new RequestOp { RequestRange = new RangeRequest { Key = _key } } },
            }, options).ResponseAsync,
            cancellationToken);

    private static PlacementRead? ReadOf(RangeResponse range) =>
        range.Kvs.Count == 0 ? null : PlacementRead.Decode(range.Kvs[0].ModRevision, range.Kvs[0].Value.Span);

    private static EtcdPlacementStoreOptions Validated(EtcdPlacementStoreOptions options)
    {
        options.Validate();
        return options;
    }

    [LoggerMessage(EventId = 4410, Level = LogLevel.Information, Message = "Placement map version {Version} created in etcd at revision {Revision}")]
    private partial void LogCreated(long version, long revision);

    [LoggerMessage(EventId = 4411, Level = LogLevel.Information, Message = "Placement map version {Version} stored in etcd at revision {Revision}")]
    private partial void LogReplaced(long version, long revision);

    [LoggerMessage(EventId = 4412, Level = LogLevel.Warning, Message = "Placement watch on {Member} ended ({Why}); watching again on the next member")]
    private partial void LogWatchEnded(Uri member, string why);
}

/// <summary>Where and how <see cref="EtcdPlacementStore"/> keeps the map. Limits with their unit last.</summary>
public sealed record EtcdPlacementStoreOptions
{
    /// <summary>The one key of the map.</summary>
    public string Key { get; init; } = "/bulwark/placement/map";

    /// <summary>How often the watch asks for a progress notification: each one confirms the map.</summary>
    public double ProgressRequestIntervalSeconds { get; init; } = 1;

    /// <summary>Nothing from the watch for this long: the watch is broken (R3) and is moved to another member.</summary>
    public double StaleAfterSeconds { get; init; } = 3;

    public void Validate()
    {
        if (!Key.StartsWith('/') || Key.EndsWith('/'))
        {
            throw new ArgumentException($"Key must start with '/' and name one key, got '{Key}'.", nameof(Key));
        }
        if (!(ProgressRequestIntervalSeconds > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(ProgressRequestIntervalSeconds), ProgressRequestIntervalSeconds, "Must be greater than zero.");
        }
        if (!(StaleAfterSeconds > ProgressRequestIntervalSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(StaleAfterSeconds), StaleAfterSeconds, "Must be greater than the progress request interval.");
        }
    }
}
