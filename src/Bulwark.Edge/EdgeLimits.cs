namespace Bulwark.Edge;

/// <summary>Every limit of the edge in one place, named with the unit last.</summary>
public static class EdgeLimits
{
    public const int SigningKeyBytesMin = 32;
    public const int SigningKeyBytesDefault = 64;
    public const int SigningKeyBytesMax = 4096;

    /// <summary>Keys in the signing key ring: a rotation needs two; more are a mistake to notice, not to load.</summary>
    public const int SigningKeysMax = 16;

    /// <summary>How often an edge reads the signing key directory again (new keys sign, deleted keys stop verifying).</summary>
    public const int SigningKeyRingReloadSecondsDefault = 30;

    /// <summary>The least time between reads caused by tokens naming an unknown key id (which anyone can send).</summary>
    public const int SigningKeyRingUnknownKeyReloadSecondsMin = 1;

    public const int TokenLifetimeHoursMax = 24;
    public const int TokenClockSkewSecondsMax = 30;

    public const int ServiceCallTimeoutMillisecondsDefault = 5_000;
    public const int ServiceCallTimeoutMillisecondsMin = 10;
    public const int ServiceCallTimeoutMillisecondsMax = 60_000;

    /// <summary>The largest request body the API reads; every request it takes is far smaller.</summary>
    public const int RequestBodyBytesMax = 16 * 1024;
    public const int RequestJsonDepthMax = 8;

    public const int EmailLengthMax = 254;
    public const int PasswordLengthMax = 1024;
    public const int PotNameLengthMax = 40;
    /// <summary>A UK Faster Payments reference carries at most 18 characters.</summary>
    public const int PaymentReferenceLengthMax = 18;
    public const int CursorLengthMax = 512;
    public const int IdLengthMax = 64;

    /// <summary>
    /// The largest amount one payment, pot movement or pot goal may have (minor units): the accounts
    /// service's own limit (AccountsLimits.MovementAmountMax and PotGoalAmountMax). The edge checks it
    /// first so that the customer hears the real limit, not the size of a 64-bit integer.
    /// </summary>
    public const long AmountMaxMinor = 1_000_000_000_00;

    public const int FeedPageLimitDefault = 20;
    public const int FeedPageLimitMax = 100;

    /// <summary>
    /// App API requests one edge serves at once. Each makes one to three service calls of a few
    /// milliseconds; 128 at once is more than a 2-core edge turns around in the time a phone waits,
    /// and it stays below a service's ordinary share (256 - 64 calls, OverloadLimits), so one edge
    /// alone cannot fill a service and starve card authorisations. Past it, a request is answered 503
    /// overloaded at once instead of joining a queue that ends in a 504.
    /// </summary>
    public const int AppRequestsInFlightMaxDefault = 128;

    /// <summary>
    /// Requests that may wait for a place: a burst arriving in the same instant, not a backlog. A
    /// waiting request waits for one of 128 short requests to finish, so milliseconds, not seconds.
    /// </summary>
    public const int AppRequestsQueuedMaxDefault = 16;

    public const int AppRequestsInFlightMaxMax = 100_000;
    public const int AppRequestsQueuedMaxMax = 10_000;

    /// <summary>Seconds a client should wait before retrying after a 503.</summary>
    public const int RetryAfterSecondsDefault = 1;

    /// <summary>The largest failure budget (failed logins, payee misses) a key may be given.</summary>
    public const int FailureBudgetMax = 10_000;

    /// <summary>
    /// Accounts whose consecutive failed logins are remembered for the back-off. Beyond it, entries
    /// whose back-off has ended are dropped first; a table still full tracks no new account (the
    /// per-source and per-account budgets still apply).
    /// </summary>
    public const int LoginBackoffAccountsMax = 100_000;

    /// <summary>The longest Retry-After the edge sends, in seconds.</summary>
    public const int RetryAfterSecondsMax = 3_600;

    /// <summary>Characters of a service's error message passed on to the customer.</summary>
    public const int ServiceMessageLengthMax = 200;

    /// <summary>
    /// A help (chat) message: the support service's limit (SupportLimits.ChatTextLengthMax), checked
    /// here first so that a too-long message costs no service call.
    /// </summary>
    public const int HelpTextLengthMax = 2_000;

    /// <summary>The longest wait of a help long-poll (the support service's ChatWaitMillisecondsMax, in seconds).</summary>
    public const int HelpWaitSecondsMax = 25;

    /// <summary>
    /// Help long-polls one edge holds at once. They wait, they do not work: each is a request and a
    /// gRPC stream, so they are counted apart from <see cref="AppRequestsInFlightMaxDefault"/> (128
    /// customers with the Help screen open would otherwise take every place from payments).
    /// Past it a long-poll is answered 503 overloaded and the app retries after Retry-After.
    /// </summary>
    public const int HelpWaitsInFlightMax = 2_000;
}
