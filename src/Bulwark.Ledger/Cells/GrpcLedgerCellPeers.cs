using System.Collections.Concurrent;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Ledger.Cells;

/// <summary>
/// The other cells over gRPC, through the "ledger" client: the placement router sends each part of
/// a call to its partition's owner, so this class never needs to know where a cell is. Account
/// identities (currency, flags) never change, so those found are remembered.
/// </summary>
public sealed class GrpcLedgerCellPeers(Protos.Ledger.LedgerClient ledger, LedgerCells cells) : ILedgerCellPeers
{
    private readonly ConcurrentDictionary<UInt128, LedgerAccount> _identities = new();

    public async Task<IReadOnlyDictionary<UInt128, LedgerAccount>> FindAccountsAsync(IReadOnlyCollection<UInt128> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var found = new Dictionary<UInt128, LedgerAccount>();
        var request = new GetAccountsRequest();
        foreach (var id in ids)
        {
            if (_identities.TryGetValue(id, out var known))
            {
                found[id] = known;
            }
            else
            {
                request.Ids.Add(id.ToProto());
            }
        }
        if (request.Ids.Count == 0)
        {
            return found;
        }
        GetAccountsResponse response;
        try
        {
            response = await ledger.GetAccountsAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            throw new LedgerUnavailableException($"The cells owning some credit accounts could not be asked ({error.Status.Detail}); retrying with the same ids is safe.", error);
        }
        if (response.Refused.Count > 0)
        {
            throw new LedgerUnavailableException("The owners of some credit accounts could not be found now (a partition is moving); retrying with the same ids is safe.");
        }
        if (_identities.Count > LedgerLimits.RemoteAccountsCachedMax)
        {
            _identities.Clear();
        }
        foreach (var account in response.Accounts)
        {
            var identity = account.ToLedger() with { DebitsPending = 0, DebitsPosted = 0, CreditsPending = 0, CreditsPosted = 0 };
            _identities[identity.Id] = identity;
            found[identity.Id] = identity;
        }
        return found;
    }

    public async Task<IReadOnlyList<LedgerTransferResult>> ApplyCreditLegsAsync(IReadOnlyList<LedgerTransfer> legs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(legs);
        var request = new ApplyCreditLegsRequest { FromCell = cells.Names };
        request.Legs.AddRange(legs.Select(leg => leg.ToProto()));
        ApplyCreditLegsResponse response;
        try
        {
            response = await ledger.ApplyCreditLegsAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            throw new LedgerUnavailableException($"Credit legs could not be delivered ({error.Status.Detail}).", error);
        }
        if (response.Results.Count != legs.Count)
        {
            throw new LedgerUnavailableException($"A cell answered {response.Results.Count} results for {legs.Count} credit legs.");
        }
        return response.Results.Select(result => new LedgerTransferResult(result.Status, result.Duplicate, result.Transfer?.ToLedger())).ToArray();
    }

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(LedgerLimits.CellCallDeadlineSeconds);
}
