namespace Bulwark.Accounts.Storage;

/// <summary>
/// A customer. <see cref="EmailNormalised"/> (trimmed, lower case) is unique. <see cref="Synthetic"/>
/// marks the coherence checker's own customers: real records that log in through the app API like
/// anyone, and that no list or report of customers shows (docs/internals/coherence.md).
/// </summary>
public sealed record CustomerRecord(string CustomerId, string Name, string Email, string EmailNormalised, long CreatedAtUnixMs, bool Synthetic = false);

/// <summary>
/// A password hash with everything needed to check it again: the algorithm, the iteration count
/// (stored so that it can be raised later) and the per-customer salt.
/// </summary>
public sealed record CredentialRecord(string CustomerId, string Algorithm, int Iterations, byte[] Salt, byte[] Hash, long UpdatedAtUnixMs);

/// <summary>A current account; (SortCode, AccountNumber) is unique and so is LedgerAccountId.</summary>
public sealed record CurrentAccountRecord(
    string AccountId,
    string CustomerId,
    string Name,
    string SortCode,
    string AccountNumber,
    string Currency,
    long OverdraftLimit,
    string LedgerAccountId,
    long CreatedAtUnixMs,
    bool Blocked = false,
    string BlockedReason = "");

/// <summary>A pot: a ledger account of its own, belonging to one current account.</summary>
public sealed record PotRecord(
    string PotId,
    string CustomerId,
    string AccountId,
    string Name,
    string Currency,
    string LedgerAccountId,
    long GoalAmount,
    long CreatedAtUnixMs);

/// <summary>A card. Only the PAN's token (a keyed hash) and its last four digits are kept.</summary>
public sealed record CardRecord(
    string CardId,
    string CustomerId,
    string AccountId,
    string PanToken,
    string LastFour,
    int ExpiryMonth,
    int ExpiryYear,
    bool Frozen,
    long CreatedAtUnixMs,
    bool FrozenByStaff = false);

/// <summary>
/// A money movement, keyed by its ledger transfer id (32 hex digits; stored in the column
/// <c>idempotency_key</c>, which before issue 11 held the customer's key, then also the id).
/// <see cref="RequestFingerprint"/> identifies the request, so that a reused key with a different
/// request is recognised.
/// </summary>
public sealed record MovementRecord(
    string TransferId,
    string CustomerId,
    string Kind,
    string RequestFingerprint,
    long Amount,
    string Currency,
    long TimestampUnixMs);

/// <summary>
/// A customer token revoked before its expiry (a logout). Kept until <see cref="ExpiresAtUnixMs"/>,
/// after which the token is refused for its age anyway.
/// </summary>
public sealed record RevokedTokenRecord(string TokenId, string CustomerId, long ExpiresAtUnixMs, long RevokedAtUnixMs);

public enum CreateCustomerOutcome
{
    Created,
    EmailTaken,
    AccountNumberTaken,
}

public enum CreateLimitedOutcome
{
    Created,
    LimitReached,
    AlreadyExists,
}

/// <summary>
/// What a staff search gives; null parts match anything. Name and email match when they contain
/// the text (without regard to case); sort code and account number together name a current
/// account; card last four names one of the customer's cards.
/// </summary>
public sealed record CustomerQuery(string? NameContains, string? EmailContains, string? SortCode, string? AccountNumber, string? CardLastFour)
{
    /// <summary>A LIKE pattern that finds <paramref name="text"/> anywhere, with LIKE's own characters escaped by a backslash.</summary>
    public static string? ContainsPattern(string? text) =>
        text is null ? null : "%" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
}

/// <summary>
/// An approved refund's claim on the transfer it refunds: the claims of one original transfer
/// never add up to more than what that transfer took from the customer.
/// </summary>
public sealed record RefundClaim(string ApprovalId, string OriginalTransferId, long Amount, long CreatedAtUnixMs);

/// <summary>
/// What <see cref="IAccountsStore.ClaimRefundAsync"/> did: <see cref="Claimed"/> the claim now
/// stands (new, or the same approval's earlier claim, which is <see cref="Existing"/>); otherwise
/// the refund would have taken the original's refunds past what it can give, and
/// <see cref="RefundedBefore"/> says how much other approvals already claimed.
/// </summary>
public sealed record RefundClaimResult(bool Claimed, RefundClaim? Existing, long RefundedBefore);
