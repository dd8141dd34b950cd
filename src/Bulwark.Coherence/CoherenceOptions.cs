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

    /// <summary>
    /// The environment variable that gives the app API's addresses, as customers reach it
    /// (comma-separated absolute http or https URLs, for example <c>http://127.0.0.1:8080/</c>).
    /// </summary>
    public const string AppApiVariable = "BULWARK_COHERENCE_APP_URL";

    /// <summary>
    /// The app API's base addresses, tried in turn, for <c>app_read</c>. Empty (the default): the
    /// public endpoint of the process the checker runs in, when it has one (<c>bulwark run</c>, where
    /// the edge is in the same process); without either the check is not made.
    /// </summary>
    public IReadOnlyList<Uri> AppApi { get; init; } = [];

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
        if (AppApi.Count > CoherenceLimits.AppApiAddressesMax
            || AppApi.Any(address => !address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps)))
        {
            throw new ArgumentOutOfRangeException(nameof(AppApi), $"The app API addresses must be at most {CoherenceLimits.AppApiAddressesMax} absolute http or https URLs.");
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
    public static CoherenceOptions FromEnvironment(string? value) => FromEnvironment(value, null);

    /// <summary>
    /// <see cref="FromEnvironment(string?)"/> with the app API's addresses from <paramref name="appApi"/>
    /// (the value of <see cref="AppApiVariable"/>): comma-separated absolute http or https URLs. A bad
    /// one fails the start, naming the variable.
    /// </summary>
    public static CoherenceOptions FromEnvironment(string? value, string? appApi) =>
        FromInterval(value) with { AppApi = AppApiAddresses(appApi) };

    private static IReadOnlyList<Uri> AppApiAddresses(string? value)
    {
        var parts = (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > CoherenceLimits.AppApiAddressesMax)
        {
            throw new InvalidOperationException($"{AppApiVariable} names {parts.Length} addresses; at most {CoherenceLimits.AppApiAddressesMax}.");
        }
        var addresses = new List<Uri>(parts.Length);
        foreach (var part in parts)
        {
            // A base address must end with '/', or the last segment would be replaced by the API's paths.
            if (!Uri.TryCreate(part.EndsWith('/') ? part : part + "/", UriKind.Absolute, out var address)
                || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidOperationException($"{AppApiVariable} must be comma-separated http or https URLs, not '{part}'.");
            }
            addresses.Add(address);
        }
        return addresses;
    }

    private static CoherenceOptions FromInterval(string? value)
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
