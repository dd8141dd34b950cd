namespace Bulwark.Platform.Placement;

/// <summary>How a <see cref="PlacementView"/> follows the store. Every limit with its unit last.</summary>
public sealed record PlacementViewOptions
{
    /// <summary>
    /// No change or confirmation from the store's watch for this long marks the view stale and
    /// starts a new watch (the watch that noticed it stalled, as discovery's does, R3).
    /// </summary>
    public double StaleAfterSeconds { get; init; } = 5;

    /// <summary>Refreshes asked for (on a refusal) are coalesced; a new read starts at most this often.</summary>
    public int RefreshIntervalMinMilliseconds { get; init; } = 50;

    /// <summary>The first pause before a new watch after one failed; doubled up to <see cref="RewatchPauseMaxMilliseconds"/>.</summary>
    public int RewatchPauseMinMilliseconds { get; init; } = 100;

    public int RewatchPauseMaxMilliseconds { get; init; } = 2000;

    /// <summary>How long start-up waits for the first read before leaving it to the watch (a host must start while the store is away).</summary>
    public double StartReadWaitSeconds { get; init; } = 2;

    /// <summary>
    /// The bank this process belongs to. When set, a map of another cluster id is refused; when
    /// null, the cluster id of the first good map read is kept and later maps must match it.
    /// </summary>
    public string? ClusterId { get; init; }

    public void Validate()
    {
        Positive(StaleAfterSeconds, nameof(StaleAfterSeconds));
        Positive(RefreshIntervalMinMilliseconds, nameof(RefreshIntervalMinMilliseconds));
        Positive(RewatchPauseMinMilliseconds, nameof(RewatchPauseMinMilliseconds));
        Positive(RewatchPauseMaxMilliseconds, nameof(RewatchPauseMaxMilliseconds));
        Positive(StartReadWaitSeconds, nameof(StartReadWaitSeconds));
    }

    private static void Positive(double value, string name)
    {
        if (!(value > 0))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be greater than zero.");
        }
    }
}
