using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Routing;

/// <summary>SubmitTransfers, ApplyCreditLegs and ListAccountTransfers: each item to the cell of the partition it is decided in.</summary>
internal sealed class TransferRoutes(PartitionRouting routing, TransferLookup lookup)
{
    private const uint PostOrVoid = (uint)(TransferFlags.PostPending | TransferFlags.VoidPending);

    /// <summary>
    /// Each transfer goes to its debit account's cell. A post or void that leaves the debit
    /// account unset is decided where its hold is: the hold is looked up first (every cell asked)
    /// and its debit account routes it. A hold found nowhere (every partition's owner answered
    /// that it does not hold it) is answered PENDING_TRANSFER_NOT_FOUND here, as one ledger
    /// always answered it: no cell can say so itself, since a cell that does not serve every
    /// partition cannot tell which partition a hold it does not have would be in (it refuses).
    /// </summary>
    public async Task<SubmitTransfersResponse> SubmitAsync(SubmitTransfersRequest request, RoutingCall call)
    {
        var holdIds = request.Transfers.Where(NeedsHold).Select(transfer => Ids.Of(transfer.PendingId)).Where(id => id != UInt128.Zero).Distinct().ToList();
        var holds = holdIds.Count > 0 ? await lookup.FindAsync(holdIds, call).ConfigureAwait(false) : [];
        var map = routing.RequireMap();
        var absent = request.Transfers.Select(transfer => NeedsHold(transfer) && holds.TryGetValue(Ids.Of(transfer.PendingId), out var hold) && hold is null).ToArray();
        var sent = request.Transfers.Where((_, index) => !absent[index]).ToList();
        var partitions = sent.Select(transfer =>
        {
            var debit = NeedsHold(transfer) && holds.GetValueOrDefault(Ids.Of(transfer.PendingId)) is { } hold
                ? hold.DebitAccountId
                : NeedsHold(transfer) ? transfer.PendingId : transfer.DebitAccountId;
            return AccountPartitioner.PartitionOf(debit, map.PartitionCount);
        }).ToList();
        var results = sent.Count == 0 ? [] : await routing.RouteAsync<Transfer, TransferResult>(call, sent, partitions, async (cell, part, placement) =>
        {
            var answer = await routing.CallCellAsync(call, cell, nameof(Protos.Ledger.LedgerClient.SubmitTransfers),
                new SubmitTransfersRequest { Transfers = { part }, IdNamespace = request.IdNamespace, Placement = { placement } }, SubmitTransfersResponse.Parser).ConfigureAwait(false);
            return new PartAnswer<TransferResult>([.. answer.Results.Select(WrongOwnerIsRefused)], answer.Refusals);
        }).ConfigureAwait(false);
        var response = new SubmitTransfersResponse();
        var next = 0;
        for (var index = 0; index < absent.Length; index++)
        {
            response.Results.Add(absent[index] ? new TransferResult { Status = TransferStatus.PendingTransferNotFound } : results[next++]);
        }
        return response;
    }

    /// <summary>Each credit leg goes to its credit account's cell.</summary>
    public async Task<ApplyCreditLegsResponse> ApplyCreditLegsAsync(ApplyCreditLegsRequest request, RoutingCall call)
    {
        var map = routing.RequireMap();
        var partitions = request.Legs.Select(leg => AccountPartitioner.PartitionOf(leg.CreditAccountId, map.PartitionCount)).ToList();
        var results = await routing.RouteAsync<Transfer, TransferResult>(call, request.Legs, partitions, async (cell, part, placement) =>
        {
            var answer = await routing.CallCellAsync(call, cell, nameof(Protos.Ledger.LedgerClient.ApplyCreditLegs),
                new ApplyCreditLegsRequest { Legs = { part }, FromCell = request.FromCell, Placement = { placement } }, ApplyCreditLegsResponse.Parser).ConfigureAwait(false);
            return new PartAnswer<TransferResult>([.. answer.Results.Select(WrongOwnerIsRefused)], answer.Refusals);
        }).ConfigureAwait(false);
        return new ApplyCreditLegsResponse { Results = { results } };
    }

    /// <summary>To the account's cell; a refusal comes as <c>ABORTED</c> with the refusal trailer.</summary>
    public async Task<ListAccountTransfersResponse> ListAsync(ListAccountTransfersRequest request, RoutingCall call)
    {
        var map = routing.RequireMap();
        var results = await routing.RouteAsync<ListAccountTransfersRequest, ListAccountTransfersResponse>(
            call, [request], [AccountPartitioner.PartitionOf(request.AccountId, map.PartitionCount)], async (cell, part, placement) =>
            {
                var sent = part[0].Clone();
                sent.Placement.Clear();
                sent.Placement.Add(placement);
                try
                {
                    return new PartAnswer<ListAccountTransfersResponse>(
                        [await routing.CallCellAsync(call, cell, nameof(Protos.Ledger.LedgerClient.ListAccountTransfers), sent, ListAccountTransfersResponse.Parser).ConfigureAwait(false)], []);
                }
                catch (Grpc.Core.RpcException error) when (PartitionRouting.RefusalOf(error) is { } refusal)
                {
                    return new PartAnswer<ListAccountTransfersResponse>([null], [refusal]);
                }
            }).ConfigureAwait(false);
        return results[0];
    }

    private static bool NeedsHold(Transfer transfer) =>
        (transfer.Flags & PostOrVoid) != 0 && Ids.Of(transfer.DebitAccountId) == UInt128.Zero;

    private static TransferResult? WrongOwnerIsRefused(TransferResult result) => result.Status == TransferStatus.WrongOwner ? null : result;
}
