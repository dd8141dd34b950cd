namespace Bulwark.Ledger.Routing;

/// <summary>The ledger router's limits, each with its reason. Options validated at start.</summary>
public sealed record LedgerRouterLimits
{
    /// <summary>
    /// Rounds per call, the first included. A round sends every item still unanswered to the cell
    /// the map names; refused items go to the next round after a map refresh or a pause. A move's
    /// flip takes one or two rounds to be seen; eight leave room for a pause (MOVING) of about a
    /// second at the pauses below, and stop a cell that never stops refusing.
    /// </summary>
    public int RoundsMax { get; init; } = 8;

    /// <summary>The first pause before a round that follows a refusal that a map refresh did not answer (MOVING, or a map that did not change).</summary>
    public int PauseInitialMilliseconds { get; init; } = 20;

    /// <summary>Pauses double up to this.</summary>
    public int PauseMaxMilliseconds { get; init; } = 200;

    /// <summary>A further round is only started when at least this much of the call's deadline is left after its pause.</summary>
    public int RoundTimeMinMilliseconds { get; init; } = 50;

    /// <summary>A call without a deadline is bounded by this (a hung cell must not hold a caller for ever).</summary>
    public double CallWithoutDeadlineSecondsMax { get; init; } = 30;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(RoundsMax, 1, nameof(RoundsMax));
        ArgumentOutOfRangeException.ThrowIfLessThan(PauseInitialMilliseconds, 1, nameof(PauseInitialMilliseconds));
        ArgumentOutOfRangeException.ThrowIfLessThan(PauseMaxMilliseconds, PauseInitialMilliseconds, nameof(PauseMaxMilliseconds));
        ArgumentOutOfRangeException.ThrowIfLessThan(RoundTimeMinMilliseconds, 0, nameof(RoundTimeMinMilliseconds));
        if (!(CallWithoutDeadlineSecondsMax > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(CallWithoutDeadlineSecondsMax), CallWithoutDeadlineSecondsMax, "Must be greater than zero.");
        }
    }
}
