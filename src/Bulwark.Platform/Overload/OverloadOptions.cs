namespace Bulwark.Platform.Overload;

/// <summary>How many gRPC calls a process serves at once, and how many of them are kept for priority calls.</summary>
public sealed class OverloadOptions
{
    /// <summary>Calls in flight at most; the next one is refused at once. Default: <see cref="OverloadLimits.CallsInFlightMaxDefault"/>.</summary>
    public int CallsInFlightMax { get; init; } = OverloadLimits.CallsInFlightMaxDefault;

    /// <summary>
    /// Of <see cref="CallsInFlightMax"/>, how many only priority calls may use (see <see cref="CallPriority"/>).
    /// Default: <see cref="OverloadLimits.PriorityCallsReservedDefault"/>.
    /// </summary>
    public int PriorityCallsReserved { get; init; } = OverloadLimits.PriorityCallsReservedDefault;

    /// <summary>The wait a refused caller is told to leave before asking this instance again.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromMilliseconds(OverloadLimits.RetryAfterMillisecondsDefault);

    /// <summary>Calls other than priority ones admitted at once.</summary>
    public int OrdinaryCallsMax => CallsInFlightMax - PriorityCallsReserved;

    /// <summary>Throws when the limits cannot work: called at start, so a bad number stops the process rather than its traffic.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(CallsInFlightMax, 2, nameof(CallsInFlightMax));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CallsInFlightMax, OverloadLimits.CallsInFlightMaxMax, nameof(CallsInFlightMax));
        ArgumentOutOfRangeException.ThrowIfLessThan(PriorityCallsReserved, 0, nameof(PriorityCallsReserved));
        // Ordinary traffic must have at least one call, or the service serves only card authorisations.
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(PriorityCallsReserved, CallsInFlightMax, nameof(PriorityCallsReserved));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryAfter, TimeSpan.FromMilliseconds(1), nameof(RetryAfter));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RetryAfter, TimeSpan.FromMinutes(1), nameof(RetryAfter));
    }
}
