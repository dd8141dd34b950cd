using Grpc.Core;

namespace Bulwark.Ledger.Routing;

/// <summary>One caller's call as the router carries it through its rounds: the method, the options every cell call gets, the deadline, the pause.</summary>
internal sealed class RoutingCall
{
    public RoutingCall(string method, CallOptions options, DateTimeOffset now, LedgerRouterLimits limits)
    {
        Method = method;
        Deadline = options.Deadline is { } deadline && deadline != DateTime.MaxValue
            ? new DateTimeOffset(deadline.ToUniversalTime(), TimeSpan.Zero)
            : now + TimeSpan.FromSeconds(limits.CallWithoutDeadlineSecondsMax);
        // Every cell call carries the caller's headers, cancellation and deadline: a cell that
        // accepts and never answers costs the caller its deadline, never more.
        CellOptions = options.WithDeadline(Deadline.UtcDateTime);
        Pause = TimeSpan.FromMilliseconds(limits.PauseInitialMilliseconds);
    }

    public string Method { get; }

    public DateTimeOffset Deadline { get; }

    public CallOptions CellOptions { get; }

    public CancellationToken CancellationToken => CellOptions.CancellationToken;

    /// <summary>The round under way, from 1.</summary>
    public int Round { get; set; } = 1;

    /// <summary>The pause before the next round that needs one.</summary>
    public TimeSpan Pause { get; set; }
}
