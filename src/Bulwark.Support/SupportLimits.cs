namespace Bulwark.Support;

/// <summary>
/// Every limit of the support service in one place. A request beyond a limit is refused with
/// INVALID_ARGUMENT naming the field.
/// </summary>
public static class SupportLimits
{
    public const int NameLengthMax = 100;

    /// <summary>RFC 5321 caps a forward path at 256 octets, two of which are the angle brackets.</summary>
    public const int EmailLengthMax = 254;

    /// <summary>
    /// Staff reach every customer: 12 characters at least (NIST SP 800-63B asks for 8; staff
    /// passwords guard more). The cap keeps one hash from being a denial of service.
    /// </summary>
    public const int PasswordLengthMin = 12;

    public const int PasswordLengthMax = 128;

    public const int PasswordIterationsMin = 1_000;

    public const int PasswordIterationsMax = 10_000_000;

    /// <summary>
    /// Staff logins waiting for a hashing thread: about 0.2 s each on one core, so 8 waiting is
    /// under two seconds of work (the same reasoning as AccountsLimits.PasswordHashingQueueMaxDefault).
    /// </summary>
    public const int PasswordHashingQueueMaxDefault = 8;

    public const int PasswordHashingQueueMaxMax = 10_000;

    public const int PasswordHashingConcurrencyMax = 64;

    /// <summary>RFC 6238's recommended time step.</summary>
    public const int TotpStepSeconds = 30;

    /// <summary>Steps either side of now a code may come from: a phone's clock a little off, a code typed as it changed.</summary>
    public const int TotpDriftStepsMax = 1;

    public const int TotpDigits = 6;

    /// <summary>160 bits: RFC 4226's recommended secret length for HMAC-SHA-1.</summary>
    public const int TotpSecretBytes = 20;

    /// <summary>Failed logins in a row (wrong password, wrong or replayed code) that lock a staff member.</summary>
    public const int AuthenticationFailuresBeforeLock = 5;

    /// <summary>The first lock lasts a minute; each further lock in a row twice as long as the one before.</summary>
    public const int LockSecondsFirst = 60;

    /// <summary>
    /// The longest lock: an hour. Five guesses an hour at a 6-digit code and a password leave an
    /// attacker nowhere, while a member of staff locked out by someone else waits at most an hour.
    /// </summary>
    public const int LockSecondsMax = 3_600;

    public const int RolesMax = 3;

    /// <summary>Why something was done: a sentence, not an essay.</summary>
    public const int ReasonLengthMax = 500;

    /// <summary>Lower-case dotted words, e.g. "customer.viewed".</summary>
    public const int ActionLengthMax = 64;

    /// <summary>A customer id, staff id, account id ... with room for a prefix.</summary>
    public const int SubjectLengthMax = 128;

    /// <summary>An audit entry's extra details: a small JSON object, not a document store.</summary>
    public const int DetailsJsonBytesMax = 16 * 1024;

    /// <summary>An IPv6 address with a zone id fits in 64 characters.</summary>
    public const int SourceAddressLengthMax = 64;

    public const int ListStaffLimitDefault = 50;

    public const int ListStaffLimitMax = 500;

    public const int ListAuditLimitDefault = 100;

    /// <summary>At most 1,000 entries in one page: with details at most a few MB, usually far less.</summary>
    public const int ListAuditLimitMax = 1_000;

    /// <summary>Entries read from the store at once while verifying the chain: memory stays bounded whatever the log's length.</summary>
    public const int AuditVerifyPageEntries = 1_000;

    /// <summary>A chat message: a few paragraphs. Longer is a document, which chat is not for.</summary>
    public const int ChatTextLengthMax = 2_000;

    /// <summary>A client's id for one message (the app sends its 32-hex Idempotency-Key): room for a UUID and a prefix.</summary>
    public const int ChatClientMessageIdLengthMax = 64;

    public const int ListChatMessagesLimitDefault = 100;

    /// <summary>At most 500 messages of at most 2,000 characters: about 2 MB in the worst case, well under gRPC's 4 MB.</summary>
    public const int ListChatMessagesLimitMax = 500;

    /// <summary>
    /// The longest long-poll: 25 s stays under the 30 s idle timeouts common in proxies and load
    /// balancers, so a waiting call is never cut by the network in between.
    /// </summary>
    public const int ChatWaitMillisecondsMax = 25_000;

    /// <summary>
    /// How often a waiting long-poll re-reads the store: a message posted through another instance
    /// of the service (PostgreSQL) reaches a waiter within a second; one posted through this
    /// instance wakes it at once.
    /// </summary>
    public const int ChatRecheckMillisecondsDefault = 1_000;

    /// <summary>
    /// Long-polls waiting at once in one instance: each holds a request and a timer, no thread.
    /// Beyond this the service answers RESOURCE_EXHAUSTED rather than let waiters pile up without bound.
    /// </summary>
    public const int ChatWaitersMax = 10_000;

    /// <summary>
    /// Long-polls waiting at once on one conversation in one instance: the customer's devices and
    /// tabs and the staff looking at it. Beyond this that conversation's next long-poll is answered
    /// RESOURCE_EXHAUSTED, so one customer cannot take the places of everyone else.
    /// </summary>
    public const int ChatWaitersPerConversationMax = 16;

    public const int ListConversationsLimitDefault = 50;

    public const int ListConversationsLimitMax = 200;

    /// <summary>
    /// The largest money movement one proposal may carry: 2,500.00 in minor units. A goodwill
    /// credit or refund above it is not a console action; it goes through the bank's payments team.
    /// </summary>
    public const long ApprovalAmountMax = 250_000;

    /// <summary>
    /// A proposal nobody decided within a week expires: the customer's case has moved on, and a
    /// stale proposal must not be approved by someone who no longer knows why it was made.
    /// </summary>
    public const int ApprovalExpiryDays = 7;

    /// <summary>A ledger transfer id (32 hex digits) or a feed item id, with room to spare.</summary>
    public const int OriginalTransferIdLengthMax = 64;

    public const int ListApprovalsLimitDefault = 50;

    public const int ListApprovalsLimitMax = 500;
}
