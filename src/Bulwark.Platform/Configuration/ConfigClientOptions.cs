namespace Bulwark.Platform.Configuration;

/// <summary>
/// What a process watches in the configuration service and how it judges the service. Validated
/// at start (<see cref="Validate"/>); every limit with its unit last.
/// </summary>
public sealed record ConfigClientOptions
{
    /// <summary>The service name the client reaches through <c>bulwark:///config</c>.</summary>
    public const string ServiceDefault = "config";

    /// <summary>
    /// The key prefixes this process reads (for example <c>edge/</c>): one watch stream each. No
    /// prefix may contain another (a key belongs to exactly one watch); <c>""</c> alone watches all.
    /// </summary>
    public required IReadOnlyList<string> Prefixes { get; init; }

    /// <summary>
    /// Where the last known good values are kept, under the service's data directory (for example
    /// <c>DATA/config-cache.bin</c>). Null keeps nothing on disk: a process then starts with nothing
    /// while the service is away, so every production host sets it.
    /// </summary>
    public string? CachePath { get; init; }

    /// <summary>The service to reach (<c>bulwark:///&lt;Service&gt;</c>).</summary>
    public string Service { get; init; } = ServiceDefault;

    /// <summary>How often the service is asked to confirm a quiet prefix (the contract's default, 5 s).</summary>
    public int ProgressIntervalMilliseconds { get; init; } = 5000;

    /// <summary>
    /// No change, progress or snapshot for this long marks a prefix stale: its answers become
    /// <see cref="ConfigUnknownReason.Unavailable"/> (with the last good values), the stream is
    /// cancelled and opened again. Null: <see cref="ConfigClientLimits.StaleAfterProgressIntervals"/>
    /// progress intervals (15 s by default).
    /// </summary>
    public double? StaleAfterSeconds { get; init; }

    /// <summary>
    /// How long start-up waits for the service to confirm every prefix before it goes on with the
    /// cache file's values (or none): start-up never waits on the config service beyond this.
    /// </summary>
    public double StartWaitSeconds { get; init; } = 2;

    /// <summary>The pause before opening a stream again after one failed; doubled up to <see cref="ReconnectPauseMaxMilliseconds"/>.</summary>
    public int ReconnectPauseMinMilliseconds { get; init; } = 100;

    public int ReconnectPauseMaxMilliseconds { get; init; } = 5000;

    /// <summary>The staleness bound in effect.</summary>
    public TimeSpan StaleAfter => StaleAfterSeconds is { } seconds
        ? TimeSpan.FromSeconds(seconds)
        : TimeSpan.FromMilliseconds((double)ProgressIntervalMilliseconds * ConfigClientLimits.StaleAfterProgressIntervals);

    /// <summary>Checks the values and throws naming the first bad one.</summary>
    public void Validate()
    {
        if (Prefixes is null || Prefixes.Count == 0)
        {
            throw new ArgumentException("At least one key prefix to watch is needed.", nameof(Prefixes));
        }
        for (var i = 0; i < Prefixes.Count; i++)
        {
            var prefix = Prefixes[i];
            if (prefix is null || prefix.Length > ConfigClientLimits.KeyLengthMax)
            {
                throw new ArgumentException($"A prefix is at most {ConfigClientLimits.KeyLengthMax} characters, got '{prefix}'.", nameof(Prefixes));
            }
            for (var j = 0; j < Prefixes.Count; j++)
            {
                if (j != i && Prefixes[j] is { } other && prefix.StartsWith(other, StringComparison.Ordinal))
                {
                    throw new ArgumentException($"The prefix '{prefix}' is inside another watched prefix (or listed twice): a key belongs to one watch.", nameof(Prefixes));
                }
            }
        }
        ArgumentException.ThrowIfNullOrWhiteSpace(Service, nameof(Service));
        if (CachePath is not null && string.IsNullOrWhiteSpace(CachePath))
        {
            throw new ArgumentException("CachePath is a file path or null.", nameof(CachePath));
        }
        if (ProgressIntervalMilliseconds is < ConfigClientLimits.ProgressIntervalMillisecondsMin or > ConfigClientLimits.ProgressIntervalMillisecondsMax)
        {
            throw new ArgumentOutOfRangeException(nameof(ProgressIntervalMilliseconds), ProgressIntervalMilliseconds,
                $"Between {ConfigClientLimits.ProgressIntervalMillisecondsMin} and {ConfigClientLimits.ProgressIntervalMillisecondsMax} (the contract's bounds).");
        }
        if (StaleAfter.TotalMilliseconds <= ProgressIntervalMilliseconds)
        {
            throw new ArgumentOutOfRangeException(nameof(StaleAfterSeconds), StaleAfterSeconds,
                "Must be longer than the progress interval, or every quiet prefix would look stale.");
        }
        Positive(StartWaitSeconds, nameof(StartWaitSeconds));
        Positive(ReconnectPauseMinMilliseconds, nameof(ReconnectPauseMinMilliseconds));
        Positive(ReconnectPauseMaxMilliseconds, nameof(ReconnectPauseMaxMilliseconds));
        if (ReconnectPauseMaxMilliseconds < ReconnectPauseMinMilliseconds)
        {
            throw new ArgumentOutOfRangeException(nameof(ReconnectPauseMaxMilliseconds), ReconnectPauseMaxMilliseconds, "At least ReconnectPauseMinMilliseconds.");
        }
    }

    /// <summary>The watched prefix <paramref name="key"/> belongs to, or null.</summary>
    internal string? PrefixOf(string key)
    {
        foreach (var prefix in Prefixes)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                return prefix;
            }
        }
        return null;
    }

    private static void Positive(double value, string name)
    {
        if (!(value > 0))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be greater than zero.");
        }
    }
}
