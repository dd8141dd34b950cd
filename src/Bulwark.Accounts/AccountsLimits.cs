namespace Bulwark.Accounts;

/// <summary>
/// Every limit of the accounts service in one place. A request beyond a limit is refused with
/// INVALID_ARGUMENT naming the field, or FAILED_PRECONDITION when a count would be exceeded.
/// </summary>
public static class AccountsLimits
{
    public const int NameLengthMax = 100;

    /// <summary>RFC 5321 caps a forward path at 256 octets, two of which are the angle brackets.</summary>
    public const int EmailLengthMax = 254;

    /// <summary>NIST SP 800-63B: at least 8 characters; the cap keeps one hash from being a denial of service.</summary>
    public const int PasswordLengthMin = 8;

    public const int PasswordLengthMax = 128;

    /// <summary>
    /// A synthetic customer's password (the coherence checker's) is a random secret of at least this
    /// many characters: 32 from its 64-symbol alphabet are 192 bits, beyond any guessing.
    /// </summary>
    public const int SyntheticPasswordLengthMin = 32;

    /// <summary>
    /// PBKDF2 iterations of a synthetic customer's password hash. The 210,000 of a customer's slow a
    /// guess at a human password; a random 192-bit secret needs no slowing, and at 210,000 the
    /// checker's two hashes per partition visited (set, then log in) cost a loaded 2-core machine
    /// seconds each round: a full run saw every app read time out.
    /// </summary>
    public const int SyntheticPasswordIterations = 1_000;

    /// <summary>The largest overdraft a customer account may be opened with (minor units).</summary>
    public const long OverdraftLimitMax = 10_000_000;

    public const int PotNameLengthMax = 50;

    public const long PotGoalAmountMax = 1_000_000_000_00;

    /// <summary>One movement may not exceed this (minor units): far above any retail payment, far below overflow.</summary>
    public const long MovementAmountMax = 1_000_000_000_00;

    /// <summary>UK Faster Payments carry a reference of at most 18 characters.</summary>
    public const int ReferenceLengthMax = 18;

    public const int PotsPerCustomerMax = 100;

    public const int CardsPerCustomerMax = 20;

    public const int PanLengthMin = 13;

    public const int PanLengthMax = 19;

    /// <summary>How far ahead a card's expiry may lie; issuers use 3 to 5 years.</summary>
    public const int ExpiryYearsAheadMax = 20;

    /// <summary>Fresh account numbers tried before giving up (collisions are rare: 10^8 numbers).</summary>
    public const int AccountNumberAttemptsMax = 10;

    public const int PasswordIterationsMin = 1_000;

    public const int PasswordIterationsMax = 10_000_000;

    /// <summary>
    /// Logins waiting for a hashing thread. One PBKDF2-HMAC-SHA512 hash at 210,000 iterations takes
    /// about 0.2 s of one core (measured 2026-12 on the 2-core lab machine), so 8 waiting for one
    /// thread is under two seconds of work: well inside the edge's 5-second deadline, so a queued
    /// login is still answered rather than computed for nobody.
    /// </summary>
    public const int PasswordHashingQueueMaxDefault = 8;

    public const int PasswordHashingQueueMaxMax = 10_000;

    public const int PasswordHashingConcurrencyMax = 64;

    /// <summary>Revoked token ids are kept until their token expires; a token lives at most a day.</summary>
    public const long RevokedTokenLifetimeMillisecondsMax = 24L * 60 * 60 * 1000;

    /// <summary>Longest token id accepted (the edge's are 32 hex digits).</summary>
    public const int TokenIdLengthMax = 64;

    /// <summary>Expired revoked-token rows deleted by one revocation, so the table stays small without a sweeper.</summary>
    public const int RevokedTokensPurgeBatchMax = 100;

    public const int LedgerCallTimeoutMillisecondsDefault = 5_000;

    /// <summary>
    /// After the first start with derived transfer ids (issue 11), how long a request without a
    /// recorded transfer id is also looked up in the ledger under its raw key, in case it retries a
    /// request made before the upgrade whose transfer committed but whose movement was never
    /// recorded. Clients retry within minutes; a week covers an app left closed over a weekend.
    /// </summary>
    public const int RawKeyRetryWindowHours = 7 * 24;

    /// <summary>
    /// The ledger's limit on one metadata value (UTF-8 bytes). A 100-character name in a script of
    /// 3-byte characters is longer, so names written into transfers are shortened to fit.
    /// </summary>
    public const int LedgerMetadataValueBytesMax = 256;

    /// <summary>Customers in one ListCustomers page when the request names no limit.</summary>
    public const int ListCustomersLimitDefault = 50;

    /// <summary>The most customers in one ListCustomers page: a reply stays small (about 100 KB) and its query short.</summary>
    public const int ListCustomersLimitMax = 500;

    /// <summary>The longest reason kept with an account's block (the staff console's longest).</summary>
    public const int BlockReasonLengthMax = 500;

    /// <summary>Customers in one SearchCustomers answer when the request names no limit.</summary>
    public const int SearchCustomersLimitDefault = 20;

    /// <summary>The most customers one search answers: a search that matches more is too broad to read; narrow it.</summary>
    public const int SearchCustomersLimitMax = 100;

    /// <summary>The shortest name searched for: one letter would match nearly everyone.</summary>
    public const int SearchNameLengthMin = 2;

    /// <summary>The shortest email text searched for.</summary>
    public const int SearchEmailLengthMin = 3;

    /// <summary>Movements in one ListMovements page when the request names no limit.</summary>
    public const int ListMovementsLimitDefault = 200;

    /// <summary>The most movements in one ListMovements page: about 150 bytes each, so a reply stays near 150 KB.</summary>
    public const int ListMovementsLimitMax = 1_000;

    /// <summary>
    /// The largest credit from the bank in one call: 10,000.00 in minor units. The support service
    /// caps a proposal lower (SupportLimits.ApprovalAmountMax); this is the money path's own backstop.
    /// </summary>
    public const long BankCreditAmountMax = 1_000_000;
}
