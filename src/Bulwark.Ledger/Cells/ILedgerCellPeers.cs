namespace Bulwark.Ledger.Cells;

/// <summary>
/// The other cells of the ledger, as one cell reaches them: to check a credit account that lives
/// in a partition another cell owns, and to deliver the credit legs it owes. The host supplies it
/// (over gRPC through the placement-map router); a ledger of one cell needs none.
/// </summary>
public interface ILedgerCellPeers
{
    /// <summary>
    /// The accounts among <paramref name="ids"/> that exist, as their owners answered (only the
    /// identity fields matter). Throws <see cref="LedgerUnavailableException"/> when an owner
    /// could not answer: never "missing" for an account nobody could be asked about.
    /// </summary>
    Task<IReadOnlyDictionary<UInt128, LedgerAccount>> FindAccountsAsync(IReadOnlyCollection<UInt128> ids, CancellationToken cancellationToken);

    /// <summary>
    /// Delivers credit legs to the cells owning their credit accounts; one result per leg, in
    /// order. Throws <see cref="LedgerUnavailableException"/> when they could not be delivered now.
    /// </summary>
    Task<IReadOnlyList<LedgerTransferResult>> ApplyCreditLegsAsync(IReadOnlyList<LedgerTransfer> legs, CancellationToken cancellationToken);
}
