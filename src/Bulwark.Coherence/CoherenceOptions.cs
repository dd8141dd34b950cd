namespace Bulwark.Coherence;

/// <summary>How the coherence checker runs. Validated at start.</summary>
public sealed record CoherenceOptions
{
    /// <summary>The environment variable <c>bulwark run</c> and <c>serve --service coherence</c> read the interval from (whole seconds).</summary>
    public const string IntervalVariable = "BULWARK_COHERENCE_INTERVAL_SECONDS";

    /// <summary>Time between the starts of two rounds (every cell once per round). Default 5 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(CoherenceLimits.IntervalSecondsDefault);

    /// <summary>How long one cell's round may take; what is unfinished then is a timeout for that cell only. Default 3 s.</summary>
    public TimeSpan CellBudget { get; init; } = TimeSpan.FromMilliseconds(CoherenceLimits.CellBudgetMillisecondsDefault);

    public void Validate()
    {
        if (Interval < TimeSpan.FromSeconds(CoherenceLimits.IntervalSecondsMin) || Interval > TimeSpan.FromSeconds(CoherenceLimits.IntervalSecondsMax))
        {
            throw new ArgumentOutOfRangeException(nameof(Interval), Interval, $"The coherence interval must be {CoherenceLimits.IntervalSecondsMin} to {CoherenceLimits.IntervalSecondsMax} seconds.");
        }
        if (CellBudget < TimeSpan.FromMilliseconds(CoherenceLimits.CellBudgetMillisecondsMin) || CellBudget > TimeSpan.FromMilliseconds(CoherenceLimits.CellBudgetMillisecondsMax))
        {
            throw new ArgumentOutOfRangeException(nameof(CellBudget), CellBudget, $"A cell's budget must be {CoherenceLimits.CellBudgetMillisecondsMin} to {CoherenceLimits.CellBudgetMillisecondsMax} ms.");
        }
        if (CellBudget >= Interval)
        {
            throw new ArgumentOutOfRangeException(nameof(CellBudget), CellBudget, $"A cell's budget ({CellBudget.TotalMilliseconds} ms) must be shorter than the interval ({Interval.TotalSeconds} s): one round ends before the next starts.");
        }
    }

    /// <summary>
    /// The options with the interval from <see cref="IntervalVariable"/> when it is set (whole
    /// seconds, within the limits), the defaults otherwise. A bad value fails the start, naming it.
    /// The budget shrinks to fit a short interval.
    /// </summary>
    public static CoherenceOptions FromEnvironment(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return new CoherenceOptions();
        }
        if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            || seconds is < CoherenceLimits.IntervalSecondsMin or > CoherenceLimits.IntervalSecondsMax)
        {
            throw new InvalidOperationException($"{IntervalVariable} must be whole seconds from {CoherenceLimits.IntervalSecondsMin} to {CoherenceLimits.IntervalSecondsMax}, not '{value}'.");
        }
        var interval = TimeSpan.FromSeconds(seconds);
        var budget = TimeSpan.FromMilliseconds(Math.Min(CoherenceLimits.CellBudgetMillisecondsDefault, interval.TotalMilliseconds * 3 / 4));
        return new CoherenceOptions { Interval = interval, CellBudget = budget };
    }
}
