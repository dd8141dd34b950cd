namespace Bulwark.Accounts.Storage;

/// <summary>
/// The accounts service's store. The service holds no other state, so any implementation that
/// keeps these promises (SQLite embedded, PostgreSQL in a cluster) can stand behind it:
/// every write is durable when its task completes, and the uniqueness rules below hold even
/// under concurrent writers.
/// </summary>
public interface IAccountsStore
{
    /// <summary>
    /// Inserts the customer, their credential (when not null) and their first current account,
    /// all or nothing. Refuses a taken normalised email and a taken (sort code, account number).
    /// </summary>
    Task<CreateCustomerOutcome> CreateCustomerAsync(CustomerRecord customer, CredentialRecord? credential, CurrentAccountRecord account, CancellationToken cancellationToken);

    Task<CustomerRecord?> GetCustomerAsync(string customerId, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="value"/> under <paramref name="name"/> unless a value is already
    /// there, and returns the stored value: the earlier one when there was one. Used for facts
    /// the database must remember about itself, such as which tokenisation key its cards use.
    /// </summary>
    Task<string> GetOrAddSettingAsync(string name, string value, CancellationToken cancellationToken);

    Task<CustomerRecord?> FindCustomerByEmailAsync(string emailNormalised, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> customers whose id comes after <paramref name="afterCustomerId"/>
    /// (null: from the first), in customer id order. Ids are lowercase version 7 UUIDs, which
    /// sort the same in every collation, so a page is the same on every store.
    /// </summary>
    Task<IReadOnlyList<CustomerRecord>> ListCustomersAsync(string? afterCustomerId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> customers (never synthetic ones) matching every part of
    /// <paramref name="query"/> that is given, ordered by name then id.
    /// </summary>
    Task<IReadOnlyList<CustomerRecord>> SearchCustomersAsync(CustomerQuery query, int limit, CancellationToken cancellationToken);

    Task<CredentialRecord?> GetCredentialAsync(string customerId, CancellationToken cancellationToken);

    /// <summary>Replaces a customer's credential (a re-hash with more iterations, a new password).</summary>
    Task SetCredentialAsync(CredentialRecord credential, CancellationToken cancellationToken);

    Task<CurrentAccountRecord?> GetCurrentAccountAsync(string accountId, CancellationToken cancellationToken);

    Task<CurrentAccountRecord?> FindCurrentAccountByNumberAsync(string sortCode, string accountNumber, CancellationToken cancellationToken);

    /// <summary>The customer's current accounts, oldest first.</summary>
    Task<IReadOnlyList<CurrentAccountRecord>> ListCurrentAccountsAsync(string customerId, CancellationToken cancellationToken);

    /// <summary>Inserts a pot unless its customer already has <paramref name="potsPerCustomerMax"/> pots.</summary>
    Task<CreateLimitedOutcome> CreatePotAsync(PotRecord pot, int potsPerCustomerMax, CancellationToken cancellationToken);

    Task<PotRecord?> GetPotAsync(string potId, CancellationToken cancellationToken);

    /// <summary>The customer's pots, oldest first.</summary>
    Task<IReadOnlyList<PotRecord>> ListPotsAsync(string customerId, CancellationToken cancellationToken);

    /// <summary>
    /// Inserts a card unless its customer already has <paramref name="cardsPerCustomerMax"/> cards
    /// or a card with the same PAN token exists.
    /// </summary>
    Task<CreateLimitedOutcome> CreateCardAsync(CardRecord card, int cardsPerCustomerMax, CancellationToken cancellationToken);

    Task<CardRecord?> GetCardAsync(string cardId, CancellationToken cancellationToken);

    Task<CardRecord?> FindCardByTokenAsync(string panToken, CancellationToken cancellationToken);

    /// <summary>The customer's cards, oldest first.</summary>
    Task<IReadOnlyList<CardRecord>> ListCardsAsync(string customerId, CancellationToken cancellationToken);

    /// <summary>Sets an account's blocked flag and reason; false when there is no such account.</summary>
    Task<bool> SetAccountBlockedAsync(string accountId, bool blocked, string reason, CancellationToken cancellationToken);

    /// <summary>
    /// Sets the customer's frozen flag, or (<paramref name="byStaff"/>) the staff's: a staff freeze
    /// sets only theirs, a staff unfreeze clears both. False when there is no such card.
    /// </summary>
    Task<bool> SetCardFrozenAsync(string cardId, bool frozen, bool byStaff, CancellationToken cancellationToken);

    /// <summary>The movement whose ledger transfer id (32 hex digits) is <paramref name="transferId"/>, or null.</summary>
    Task<MovementRecord?> GetMovementAsync(string transferId, CancellationToken cancellationToken);

    /// <summary>True when any movement was ever recorded.</summary>
    Task<bool> HasMovementsAsync(CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> movements with transfer ids after <paramref name="afterTransferId"/> (null: from the first), in transfer id order.</summary>
    Task<IReadOnlyList<MovementRecord>> ListMovementsAsync(string? afterTransferId, int limit, CancellationToken cancellationToken);

    /// <summary>The ledger transfer id recorded for a customer's idempotency key, or null.</summary>
    Task<string?> FindMovementTransferIdAsync(string customerId, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>
    /// Records <paramref name="transferId"/> as the ledger transfer id of the customer's
    /// idempotency key unless one is recorded already; returns the one recorded afterwards (the
    /// given one, or the one that was there first). Written before the transfer is sent, so every
    /// retry of the request, whenever it comes, sends the same id.
    /// </summary>
    Task<string> GetOrAddMovementTransferIdAsync(string customerId, string idempotencyKey, string transferId, long createdAtUnixMs, CancellationToken cancellationToken);

    /// <summary>
    /// Records a movement unless one with the same transfer id exists; returns the record that is stored
    /// afterwards (the given one, or the one that was there first).
    /// </summary>
    Task<MovementRecord> RecordMovementAsync(MovementRecord movement, CancellationToken cancellationToken);

    /// <summary>
    /// Records a revoked token (a second revocation of the same id keeps the first record) and
    /// deletes up to <paramref name="purgeMax"/> records whose token expired before
    /// <paramref name="nowUnixMs"/>, so that the table holds only live tokens without a sweeper.
    /// </summary>
    Task RevokeTokenAsync(RevokedTokenRecord token, long nowUnixMs, int purgeMax, CancellationToken cancellationToken);

    /// <summary>True when the token id has been revoked (and its record not yet purged).</summary>
    Task<bool> IsTokenRevokedAsync(string tokenId, CancellationToken cancellationToken);

    /// <summary>
    /// Claims <see cref="RefundClaim.Amount"/> of the original transfer's <paramref name="refundable"/>
    /// amount for an approval, in one transaction that no other claim of the same original can
    /// interleave with: refused (Claimed false) when the original's other claims plus this one
    /// would exceed it. The same approval asking again gets its own claim back (Existing); an
    /// approval whose claim names another original or amount is refused the same way.
    /// </summary>
    Task<RefundClaimResult> ClaimRefundAsync(RefundClaim claim, long refundable, CancellationToken cancellationToken);

    /// <summary>Drops an approval's claim (the ledger refused its refund for good); no claim, no change.</summary>
    Task ReleaseRefundClaimAsync(string approvalId, CancellationToken cancellationToken);
}
