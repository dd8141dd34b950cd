namespace Bulwark.CardNetwork;

/// <summary>Every limit and default of the simulator in one place; units last in the name.</summary>
public static class CardNetworkLimits
{
    /// <summary>The scheme waits this long for the issuer before standing in. Real schemes wait seconds.</summary>
    public static readonly TimeSpan ResponseDeadlineDefault = TimeSpan.FromSeconds(5);

    /// <summary>An 0800 echo (301) is sent this often while signed on.</summary>
    public static readonly TimeSpan EchoIntervalDefault = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive unanswered echoes after which the connection is closed and re-established.</summary>
    public const int EchoMissesMaxDefault = 2;

    /// <summary>How long a TCP connect may take.</summary>
    public static readonly TimeSpan ConnectTimeoutDefault = TimeSpan.FromSeconds(5);

    /// <summary>First wait before reconnecting; doubles per failed attempt up to <see cref="ReconnectDelayMaxDefault"/>.</summary>
    public static readonly TimeSpan ReconnectDelayMinDefault = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest wait between reconnect attempts.</summary>
    public static readonly TimeSpan ReconnectDelayMaxDefault = TimeSpan.FromSeconds(5);

    /// <summary>A changing link list (a links file) is read again this often: a new instance gets traffic within about a second.</summary>
    public static readonly TimeSpan LinkListRefreshIntervalDefault = TimeSpan.FromSeconds(1);

    /// <summary>Issuer links at most: far above any instance count a card processor runs at, low enough that a runaway list cannot open thousands of connections.</summary>
    public const int IssuerLinksMax = 64;

    /// <summary>A links file larger than this is not read (the links known are kept): 64 links take about 1.5 KiB.</summary>
    public const int LinksFileBytesMax = 64 * 1024;

    /// <summary>
    /// At start, once one link is up, how long the others may take to sign on before traffic starts:
    /// a sign-on on a healthy link takes milliseconds, and a link still down then is left to the
    /// reconnect loop (its cards go elsewhere until it is up).
    /// </summary>
    public static readonly TimeSpan LinksSignOnGrace = TimeSpan.FromSeconds(1);

    /// <summary>Requests awaiting an answer on one link; above it the scheme stands in without sending.</summary>
    public const int InFlightMaxDefault = 50_000;

    /// <summary>Hard ceiling for <see cref="InFlightMaxDefault"/>: STANs are six digits and must not repeat while in flight.</summary>
    public const int InFlightMaxCeiling = 500_000;

    /// <summary>Responses remembered after their request timed out, to tell a late answer from an unknown one.</summary>
    public const int TimedOutKeysRememberedMax = 65_536;

    /// <summary>Stand-in approves up to this amount (minor units, GBP) when the issuer does not answer.</summary>
    public const long StandInLimitMinorDefault = 5_000;

    /// <summary>Attempts to deliver one advice (0120) or reversal (0400) before it is abandoned.</summary>
    public const int StoreAndForwardAttemptsMaxDefault = 10;

    /// <summary>Wait between two attempts of the same advice or reversal.</summary>
    public static readonly TimeSpan StoreAndForwardRetryDelayDefault = TimeSpan.FromSeconds(1);

    /// <summary>Advices and reversals in flight at once.</summary>
    public const int StoreAndForwardWindowDefault = 64;

    /// <summary>Advices and reversals waiting for delivery; more are dropped and counted.</summary>
    public const int StoreAndForwardQueueMaxDefault = 1_000_000;

    /// <summary>Approvals kept for the clearing file; more are counted but not presented.</summary>
    public const int ClearingRecordsMaxDefault = 2_000_000;

    /// <summary>Authorisations per second the simulator will schedule at most.</summary>
    public const double RatePerSecondMax = 100_000;

    /// <summary>Latencies above this are recorded as this (microseconds): a minute is already a failure.</summary>
    public const long LatencyMicrosecondsMax = 60_000_000;
}
