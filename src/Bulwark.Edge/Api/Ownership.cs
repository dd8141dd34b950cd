using Bulwark.Accounts.Protos;
using Bulwark.Edge.Problems;

namespace Bulwark.Edge.Api;

/// <summary>
/// What one customer owns, as the accounts service lists it for the token's customer. The edge looks
/// every id of a request up here before it calls the feed or the ledger, so a customer can only ever
/// reach their own ledger accounts.
/// </summary>
internal sealed class Ownership(ListAccountsResponse holdings)
{
    public IReadOnlyList<CurrentAccount> Accounts => holdings.Accounts;

    public IReadOnlyList<Pot> Pots => holdings.Pots;

    public CurrentAccount? FindAccount(string accountId) =>
        holdings.Accounts.FirstOrDefault(account => string.Equals(account.AccountId, accountId, StringComparison.OrdinalIgnoreCase));

    public Pot? FindPot(string potId) =>
        holdings.Pots.FirstOrDefault(pot => string.Equals(pot.PotId, potId, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The customer's account for a read. The accounts contract has no side-effect-free way to ask
    /// whether an id the customer does not own belongs to someone else, so a read of such an id
    /// answers 404 — which tells nothing about other customers.
    /// </summary>
    public CurrentAccount RequireAccount(string accountId) =>
        FindAccount(accountId) ?? throw NotFound("account", accountId);

    /// <summary>
    /// An id from the path that cannot be an id of the accounts service (they are UUIDs) cannot
    /// exist: answered 404 without asking anyone.
    /// </summary>
    public static void CheckIdFormat(string kind, string id)
    {
        if (id.Length > EdgeLimits.IdLengthMax || !Guid.TryParseExact(id, "D", out _))
        {
            throw NotFound(kind, id.Length > EdgeLimits.IdLengthMax ? id[..EdgeLimits.IdLengthMax] : id);
        }
    }

    public static ProblemException NotFound(string kind, string id) =>
        new(ProblemType.NotFound, $"There is no {kind} '{id}'.");
}
