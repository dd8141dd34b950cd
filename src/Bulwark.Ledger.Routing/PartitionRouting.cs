using System.Collections.Concurrent;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Placement;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing;

/// <summary>
/// The rounds every routed call goes through: place each item by the map (or by a newer owner a
/// cell named), send each cell its part with the (partition, epoch) pairs it touches, keep what
/// was answered, and send what was refused again — after a map refresh for "not mine", after a
/// growing pause for "moving" — until everything is answered, the rounds run out or the deadline
/// nears. Exhausted, the caller gets <c>UNAVAILABLE</c> naming the partition and why; a refusal
/// never becomes "not found" or an empty answer (R10).
/// </summary>
internal sealed partial class PartitionRouting(
    PlacementView view, Func<string, CallInvoker> cellChannel, LedgerRouterLimits limits, LedgerRouterMetrics metrics, TimeProvider time, ILogger logger)
{
    public const string ServiceName = "bulwark.ledger.v1.Ledger";

    /// <summary>The trailer in which a cell puts its <see cref="PartitionRefusal"/> when it refuses a whole call (<c>ABORTED</c>).</summary>
    public const string RefusalTrailer = "bulwark-partition-refusal-bin";

    private static readonly Marshaller<byte[]> PassThrough = Marshallers.Create(bytes => bytes, bytes => bytes);

    private readonly ConcurrentDictionary<string, Method<byte[], byte[]>> _methods = new(StringComparer.Ordinal);

    // Owners cells named in refusals, newer than the map's: used until the map catches up.
    private readonly ConcurrentDictionary<int, PartitionPlacement> _hints = new();

    public LedgerRouterLimits Limits => limits;

    public TimeProvider Time => time;

    /// <summary>The map to route by, or <c>UNAVAILABLE</c> when there is none yet.</summary>
    public PlacementMap RequireMap() =>
        view.Current is { Cells.Count: > 0 } map
            ? map
            : throw new RpcException(new Status(StatusCode.Unavailable, "placement map not loaded: the ledger cannot be routed to yet; nothing was sent, retrying is safe"));

    /// <summary>Where a partition is now: the map's owner, or a newer owner a cell named in a refusal.</summary>
    public PartitionPlacement PlacementOf(PlacementMap map, int partition)
    {
        var mapped = map.Partitions[partition];
        if (_hints.TryGetValue(partition, out var hint))
        {
            if (hint.Epoch > mapped.Epoch)
            {
                return hint;
            }
            _hints.TryRemove(new KeyValuePair<int, PartitionPlacement>(partition, hint));
        }
        return mapped;
    }

    /// <summary>
    /// Routes <paramref name="items"/> (item i in partition <paramref name="partitions"/>[i]) in
    /// rounds; returns one result per item, in order.
    /// </summary>
    public async Task<TResult[]> RouteAsync<TItem, TResult>(
        RoutingCall call, IReadOnlyList<TItem> items, IReadOnlyList<int> partitions,
        Func<string, IReadOnlyList<TItem>, IReadOnlyList<PartitionEpoch>, Task<PartAnswer<TResult>>> send)
        where TResult : class
    {
        var results = new TResult?[items.Count];
        List<int> pending = [.. Enumerable.Range(0, items.Count)];
        while (true)
        {
            var map = RequireMap();
            var placed = pending.Select(index => partitions[index]).Distinct().ToDictionary(partition => partition, partition => PlacementOf(map, partition));
            var parts = pending.GroupBy(index => placed[partitions[index]].Cell, StringComparer.Ordinal).Select(async group =>
            {
                List<int> indexes = [.. group];
                List<PartitionEpoch> placement = [.. indexes.Select(index => partitions[index]).Distinct().Order()
                    .Select(partition => new PartitionEpoch { Partition = (uint)partition, Epoch = (ulong)placed[partition].Epoch })];
                var answer = await send(group.Key, [.. indexes.Select(index => items[index])], placement).ConfigureAwait(false);
                if (answer.Results.Count != indexes.Count)
                {
                    throw new RpcException(new Status(StatusCode.Internal, $"ledger cell '{group.Key}' answered {answer.Results.Count} results to {indexes.Count} items ({call.Method})"));
                }
                return (Cell: group.Key, Indexes: indexes, Answer: answer);
            });
            var answers = await Task.WhenAll(parts).ConfigureAwait(false);
            List<int> refused = [];
            List<(string Cell, PartitionRefusal Refusal)> refusals = [];
            foreach (var (cell, indexes, answer) in answers)
            {
                for (var i = 0; i < indexes.Count; i++)
                {
                    if (answer.Results[i] is { } result)
                    {
                        results[indexes[i]] = result;
                    }
                    else
                    {
                        refused.Add(indexes[i]);
                    }
                }
                var refusedHere = indexes.Where(index => results[index] is null).Select(index => partitions[index]).ToHashSet();
                refusals.AddRange(answer.Refusals.Select(refusal => (cell, refusal)));
                // A refused item whose partition the cell gave no reason for is still a refusal.
                refusals.AddRange(refusedHere.Where(partition => !answer.Refusals.Any(refusal => refusal.Partition == partition))
                    .Select(partition => (cell, new PartitionRefusal { Partition = (uint)partition, Cell = cell, Reason = RefusalReason.Unspecified })));
            }
            if (refused.Count == 0)
            {
                return results!;
            }
            var refusedPartitions = refused.Select(index => partitions[index]).ToHashSet();
            await NextRoundAsync(call, map, [.. refusals.Where(refusal => refusedPartitions.Contains((int)refusal.Refusal.Partition))]).ConfigureAwait(false);
            pending = refused;
        }
    }

    /// <summary>
    /// Between rounds: counts the refusals, takes newer owners cells named as hints, refreshes the
    /// map when a cell said "not mine", pauses when nothing changed (or the cell said "moving"),
    /// and throws <c>UNAVAILABLE</c> when the rounds or the deadline are used up.
    /// </summary>
    public async Task NextRoundAsync(RoutingCall call, PlacementMap map, IReadOnlyList<(string Cell, PartitionRefusal Refusal)> refusals)
    {
        foreach (var (cell, refusal) in refusals)
        {
            metrics.Refused(cell, ReasonLabel(refusal.Reason));
        }
        var first = refusals.Count > 0 ? refusals[0] : default;
        if (call.Round >= limits.RoundsMax)
        {
            throw Exhausted(call, map, first, $"after {call.Round} rounds");
        }
        var progressed = false;
        if (refusals.Any(refusal => refusal.Refusal.Reason != RefusalReason.Moving))
        {
            foreach (var (_, refusal) in refusals)
            {
                progressed |= TryHint(map, refusal);
            }
            progressed |= await RefreshAsync(call, map).ConfigureAwait(false);
        }
        var left = call.Deadline - time.GetUtcNow();
        var pause = progressed ? TimeSpan.Zero : call.Pause;
        if (left < pause + TimeSpan.FromMilliseconds(limits.RoundTimeMinMilliseconds))
        {
            throw Exhausted(call, map, first, "before the call's deadline");
        }
        if (pause > TimeSpan.Zero)
        {
            await Task.Delay(pause, time, call.CancellationToken).ConfigureAwait(false);
            var doubled = call.Pause * 2;
            var max = TimeSpan.FromMilliseconds(limits.PauseMaxMilliseconds);
            call.Pause = doubled < max ? doubled : max;
        }
        metrics.Retried(call.Method);
        call.Round++;
    }

    /// <summary>Reads the map again (shared with every other caller refused now); true when it moved on.</summary>
    private async Task<bool> RefreshAsync(RoutingCall call, PlacementMap map)
    {
        var left = call.Deadline - time.GetUtcNow();
        if (left <= TimeSpan.Zero)
        {
            return false;
        }
        try
        {
            var refreshed = await view.RefreshAsync(call.CancellationToken).WaitAsync(left, time, call.CancellationToken).ConfigureAwait(false);
            return refreshed is not null && refreshed.Version > map.Version;
        }
        catch (Exception error) when (error is not OperationCanceledException || !call.CancellationToken.IsCancellationRequested)
        {
            LogRefreshFailed(error.Message, map.Version);
            return false;
        }
    }

    /// <summary>Takes the owner a cell named as a hint, only when it is newer than what the router already believes.</summary>
    private bool TryHint(PlacementMap map, PartitionRefusal refusal)
    {
        var partition = (int)refusal.Partition;
        if (refusal.Reason != RefusalReason.NotOwner || partition >= map.PartitionCount || refusal.OwnerEpoch > long.MaxValue
            || !PlacementMap.IsValidCellName(refusal.OwnerCell))
        {
            return false;
        }
        var hint = new PartitionPlacement(refusal.OwnerCell, (long)refusal.OwnerEpoch);
        var current = PlacementOf(map, partition);
        if (hint.Epoch <= current.Epoch)
        {
            return false;
        }
        _hints[partition] = hint;
        LogHint(partition, hint.Cell, hint.Epoch, refusal.Cell, map.Version);
        return true;
    }

    /// <summary>Sends one part to a cell through its discovery channel, as bytes, and parses the answer.</summary>
    public async Task<TResponse> CallCellAsync<TResponse>(RoutingCall call, string cell, string method, IMessage request, MessageParser<TResponse> parser)
        where TResponse : IMessage<TResponse>
    {
        var bytes = await CallCellAsync(call, cell, method, request.ToByteArray()).ConfigureAwait(false);
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException error)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"ledger cell '{cell}' answered {method} with a message that does not parse: {error.Message}"));
        }
    }

    /// <summary>
    /// Sends bytes to a cell. A failure is the caller's with the cell named, except a refusal of a
    /// whole call (<c>ABORTED</c> with a <see cref="RefusalTrailer"/>), which is thrown as it came
    /// for <see cref="RefusalOf"/>.
    /// </summary>
    public async Task<byte[]> CallCellAsync(RoutingCall call, string cell, string methodName, byte[] request)
    {
        var method = _methods.GetOrAdd(methodName, name => new Method<byte[], byte[]>(MethodType.Unary, ServiceName, name, PassThrough, PassThrough));
        using var rpc = cellChannel(cell).AsyncUnaryCall(method, null, call.CellOptions, request);
        try
        {
            return await rpc.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException error) when (RefusalOf(error) is null)
        {
            throw new RpcException(new Status(error.StatusCode, $"ledger cell '{cell}': {error.Status.Detail}", error.Status.DebugException), error.Trailers);
        }
    }

    /// <summary>The refusal a cell sent as <c>ABORTED</c> with the refusal trailer, or null.</summary>
    public static PartitionRefusal? RefusalOf(RpcException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error.StatusCode != StatusCode.Aborted || error.Trailers.GetValueBytes(RefusalTrailer) is not { } bytes)
        {
            return null;
        }
        try
        {
            return PartitionRefusal.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    public RpcException Exhausted(RoutingCall call, PlacementMap map, (string Cell, PartitionRefusal Refusal) refusal, string when)
    {
        var partition = (int)refusal.Refusal.Partition;
        var believed = partition < map.PartitionCount ? PlacementOf(map, partition) : default;
        var why = refusal.Refusal.Reason switch
        {
            RefusalReason.NotOwner => $"cell '{refusal.Cell}' does not own it"
                + (string.IsNullOrEmpty(refusal.Refusal.OwnerCell) ? "" : string.Create(CultureInfo.InvariantCulture, $" (it names '{refusal.Refusal.OwnerCell}' at epoch {refusal.Refusal.OwnerEpoch})")),
            RefusalReason.Moving => $"cell '{refusal.Cell}' is moving it to another cell",
            RefusalReason.EpochAhead => $"cell '{refusal.Cell}' holds it at an older epoch than the map's {believed.Epoch} (the cell is behind the map)",
            _ => $"cell '{refusal.Cell}' did not answer for it",
        };
        var message = string.Create(CultureInfo.InvariantCulture,
            $"ledger partition {partition} could not be reached {when}: {why}; the placement map (version {map.Version}) names '{believed.Cell}' at epoch {believed.Epoch}. Nothing was written for the refused items; retrying with the same ids is safe.");
        LogExhausted(call.Method, message);
        return new RpcException(new Status(StatusCode.Unavailable, message));
    }

    private static string ReasonLabel(RefusalReason reason) => reason switch
    {
        RefusalReason.NotOwner => "not_owner",
        RefusalReason.Moving => "moving",
        RefusalReason.EpochAhead => "epoch_ahead",
        _ => "unspecified",
    };

    [LoggerMessage(EventId = 4501, Level = LogLevel.Information, Message = "Ledger partition {Partition}: cell '{RefusingCell}' names '{Cell}' at epoch {Epoch} as owner, newer than placement map version {Version}; routing there until the map catches up")]
    private partial void LogHint(int partition, string cell, long epoch, string refusingCell, long version);

    [LoggerMessage(EventId = 4502, Level = LogLevel.Warning, Message = "Placement map refresh after a refusal failed ({Why}); still routing by version {Version}")]
    private partial void LogRefreshFailed(string why, long version);

    [LoggerMessage(EventId = 4503, Level = LogLevel.Warning, Message = "Ledger {Method} gave up: {Detail}")]
    private partial void LogExhausted(string method, string detail);
}
