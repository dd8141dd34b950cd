namespace Bulwark.Platform.Overload;

/// <summary>Every limit of a service's overload protection in one place, each with its reason.</summary>
public static class OverloadLimits
{
    /// <summary>
    /// gRPC calls one process serves at once. Bulwark's calls are short (a ledger write is one
    /// batched commit, a read one indexed query: milliseconds), so 256 in flight is far more than a
    /// 2-core process completes in the time a caller will wait; past it, extra calls only queue
    /// inside the process and every call gets slower until callers time out (the 5 s wait then 504
    /// this limit exists to prevent). Refusing at once lets the caller try another instance.
    /// </summary>
    public const int CallsInFlightMaxDefault = 256;

    /// <summary>
    /// Of <see cref="CallsInFlightMaxDefault"/>, the share only priority calls (card authorisations)
    /// may use: customer traffic is refused at 256 - 64 = 192 in flight, authorisations only at 256.
    /// 64 covers the card link's authorisations in flight at once (the network answers each in well
    /// under a second, and one link carries tens per second at most in our lab), twice over.
    /// </summary>
    public const int PriorityCallsReservedDefault = 64;

    /// <summary>Sanity bounds: fewer than 1 refuses everything, more than 65 536 is a typo rather than a limit.</summary>
    public const int CallsInFlightMaxMax = 65_536;

    /// <summary>
    /// How long a caller is told to wait before asking the same full instance again (the
    /// <c>retry-after-ms</c> trailer). A second: long enough for a burst's calls to finish, short
    /// enough that a client who waits it still fits a payment into its own deadline.
    /// </summary>
    public const int RetryAfterMillisecondsDefault = 1_000;
}
