using Bulwark.Ledger.Cells;

namespace Bulwark.Ledger.Tests.Cells;

/// <summary>
/// The other cells of a test ledger, reached in-process by partition: what the gRPC router does
/// across processes, without the network. <see cref="Refuse"/> makes a delivery answer with a
/// status of the test's choosing (a peer that refuses a leg for good).
/// </summary>
public sealed class InProcessCellPeers(int partitionCount, Func<int, LedgerEngine> ownerOf) : ILedgerCellPeers
{
    public Func<LedgerTransfer, Protos.TransferStatus?>? Refuse { get; set; }

    public int Deliveries { get; private set; }

    public async Task<IReadOnlyDictionary<UInt128, LedgerAccount>> FindAccountsAsync(IReadOnlyCollection<UInt128> ids, CancellationToken cancellationToken)
    {
        var found = new Dictionary<UInt128, LedgerAccount>();
        foreach (var group in ids.GroupBy(id => ownerOf(LedgerPartitioner.PartitionOf(id, partitionCount))))
        {
            foreach (var account in await group.Key.GetAccountsAsync(group.ToArray(), cancellationToken))
            {
                found[account.Id] = account;
            }
        }
        return found;
    }

    public async Task<IReadOnlyList<LedgerTransferResult>> ApplyCreditLegsAsync(IReadOnlyList<LedgerTransfer> legs, CancellationToken cancellationToken)
    {
        Deliveries++;
        var results = new LedgerTransferResult[legs.Count];
        for (var index = 0; index < legs.Count; index++)
        {
            if (Refuse?.Invoke(legs[index]) is { } status)
            {
                results[index] = new LedgerTransferResult(status, Duplicate: false, Transfer: null);
                continue;
            }
            var owner = ownerOf(LedgerPartitioner.PartitionOf(legs[index].CreditAccountId, partitionCount));
            results[index] = (await owner.ApplyCreditLegsAsync([legs[index]], cancellationToken))[0];
        }
        return results;
    }
}
