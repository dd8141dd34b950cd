namespace Bulwark.Edge.Staff.Ops;

/// <summary>
/// Per-second rates between two snapshots of the card processors' counters, and coherence checks
/// found missing since the previous snapshot. Null where a rate cannot be known (fewer than two
/// samples, or no process reported the counter in both).
/// </summary>
public sealed record OpsRates(double? DecisionsPerSecond, double? DeclinesPerSecond, double? StandInsPerSecond, double? CoherenceMissingNew, double? IntervalSeconds)
{
    public static readonly OpsRates Unknown = new(null, null, null, null, null);

    /// <summary>Share of card decisions that were declines over the interval, or null.</summary>
    public double? DeclineRatio => DecisionsPerSecond is > 0 && DeclinesPerSecond is { } declines ? declines / DecisionsPerSecond : null;

    public static OpsRates Between(OpsSnapshot? previous, OpsSnapshot current)
    {
        ArgumentNullException.ThrowIfNull(current);
        if (previous is null)
        {
            return Unknown;
        }
        var seconds = (current.At - previous.At).TotalSeconds;
        if (seconds <= 0)
        {
            return Unknown;
        }
        var common = current.CardsByAddress.Keys.Where(previous.CardsByAddress.ContainsKey).ToList();
        double? Rate(Func<OpsCardCounters, double> counter) => common.Count == 0 ? null
            : common.Sum(address => Increase(counter(previous.CardsByAddress[address]), counter(current.CardsByAddress[address]))) / seconds;
        var coherence = current.CoherenceMissingByAddress.Keys.Where(previous.CoherenceMissingByAddress.ContainsKey).ToList();
        return new OpsRates(
            Rate(counters => counters.Decisions),
            Rate(counters => counters.Declines),
            Rate(counters => counters.StandIns),
            coherence.Count == 0 ? null : coherence.Sum(address => Increase(previous.CoherenceMissingByAddress[address], current.CoherenceMissingByAddress[address])),
            seconds);
    }

    /// <summary>A counter's increase; a counter that went down belongs to a restarted process and counts from zero, as Prometheus' increase() does.</summary>
    private static double Increase(double before, double after) => after >= before ? after - before : after;
}
