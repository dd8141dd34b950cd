using Bulwark.Ledger.Protos;
using Bulwark.Platform.Placement;
using Grpc.Core;

namespace Bulwark.Ledger.Routing;

/// <summary>
/// GetTransfers: a transfer id does not name its partition, so every cell is asked. An id is
/// missing only when no cell found it and the partitions the cells answered for
/// (<c>answered_partitions</c>, gathered over the rounds) cover every partition; otherwise the map
/// is refreshed and the cells asked again (a partition being moved is answered by nobody for a moment).
/// </summary>
internal sealed class TransferLookup(PartitionRouting routing)
{
    public async Task<GetTransfersResponse> GetAsync(GetTransfersRequest request, RoutingCall call)
    {
        var found = await FindAsync(request.Ids.Select(Ids.Of).ToList(), call).ConfigureAwait(false);
        var response = new GetTransfersResponse();
        foreach (var id in request.Ids)
        {
            if (found.TryGetValue(Ids.Of(id), out var transfer) && transfer is not null)
            {
                response.Transfers.Add(transfer);
            }
            else
            {
                response.Missing.Add(id);
            }
        }
        return response;
    }

    /// <summary>Every id's transfer, or null for an id that every partition's owner said it does not hold.</summary>
    public async Task<Dictionary<UInt128, Transfer?>> FindAsync(IReadOnlyList<UInt128> ids, RoutingCall call)
    {
        var found = new Dictionary<UInt128, Transfer?>();
        List<UInt128> pending = [.. ids.Distinct()];
        bool[]? covered = null;
        while (pending.Count > 0)
        {
            var map = routing.RequireMap();
            covered ??= new bool[map.PartitionCount];
            var cells = Enumerable.Range(0, map.PartitionCount).Select(partition => routing.PlacementOf(map, partition).Cell).Distinct(StringComparer.Ordinal).ToList();
            var request = new GetTransfersRequest { Ids = { pending.Select(id => new Uint128 { High = (ulong)(id >> 64), Low = (ulong)id }) } };
            var answers = await Task.WhenAll(cells.Select(cell => AskAsync(call, cell, request))).ConfigureAwait(false);
            foreach (var (_, answer, _) in answers)
            {
                if (answer is null)
                {
                    continue;
                }
                foreach (var transfer in answer.Transfers)
                {
                    found.TryAdd(Ids.Of(transfer.Id), transfer);
                }
                Cover(covered, answer.AnsweredPartitions.Span);
            }
            pending = [.. pending.Where(id => !found.ContainsKey(id))];
            if (pending.Count == 0 || covered.All(answered => answered))
            {
                break;
            }
            if (answers.FirstOrDefault(answer => answer.Error is not null).Error is { } error)
            {
                // A cell that did not answer at all may hold the ids: its failure is the caller's.
                throw error;
            }
            var uncovered = Array.IndexOf(covered, false);
            var owner = routing.PlacementOf(map, uncovered).Cell;
            await routing.NextRoundAsync(call, map, [(owner, new PartitionRefusal { Partition = (uint)uncovered, Cell = owner, Reason = RefusalReason.Unspecified })]).ConfigureAwait(false);
        }
        foreach (var id in pending)
        {
            found[id] = null;
        }
        return found;
    }

    private async Task<(string Cell, GetTransfersResponse? Answer, RpcException? Error)> AskAsync(RoutingCall call, string cell, GetTransfersRequest request)
    {
        try
        {
            return (cell, await routing.CallCellAsync(call, cell, nameof(Protos.Ledger.LedgerClient.GetTransfers), request, GetTransfersResponse.Parser).ConfigureAwait(false), null);
        }
        catch (RpcException error) when (error.StatusCode is not StatusCode.Cancelled)
        {
            return (cell, null, error);
        }
    }

    /// <summary>Marks the partitions an answer covers: bit p of byte p / 8, least significant first; empty is every partition (a ledger from before cells).</summary>
    private static void Cover(bool[] covered, ReadOnlySpan<byte> answered)
    {
        for (var partition = 0; partition < covered.Length; partition++)
        {
            if (answered.IsEmpty || (partition / 8 < answered.Length && (answered[partition / 8] & (1 << (partition % 8))) != 0))
            {
                covered[partition] = true;
            }
        }
    }
}
