using System.Globalization;

namespace Bulwark.Config;

/// <summary>Where the configuration service keeps its store, and how its watches behave.</summary>
public sealed class ConfigOptions
{
    /// <summary>The SQLite database file (created with its directory when missing). Required unless <see cref="PostgresConnectionString"/> is set.</summary>
    public string DatabasePath { get; init; } = "";

    /// <summary>
    /// When set, the configuration lives in this PostgreSQL database (schema <c>config</c>) instead
    /// of the SQLite file, and any number of instances may serve it. An Npgsql connection string.
    /// </summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>
    /// How often the store's revision is read while anyone watches (commits made through another
    /// instance are seen this way). Default: <see cref="ConfigLimits.WatchPollIntervalMillisecondsDefault"/> ms.
    /// </summary>
    public TimeSpan WatchPollInterval { get; init; } = TimeSpan.FromMilliseconds(ConfigLimits.WatchPollIntervalMillisecondsDefault);

    /// <summary>
    /// How long one event may wait to be written to a watcher that is not reading before the watch
    /// is ended with RESOURCE_EXHAUSTED. Default: <see cref="ConfigLimits.WatchWriteStallMillisecondsDefault"/> ms.
    /// </summary>
    public TimeSpan WatchWriteStallTimeout { get; init; } = TimeSpan.FromMilliseconds(ConfigLimits.WatchWriteStallMillisecondsDefault);

    /// <summary>Throws when an option is unusable, so that a misconfigured process fails at start.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabasePath) && string.IsNullOrWhiteSpace(PostgresConnectionString))
        {
            throw new ArgumentException("ConfigOptions.DatabasePath is required (or ConfigOptions.PostgresConnectionString).");
        }
        var poll = WatchPollInterval.TotalMilliseconds;
        if (poll is < ConfigLimits.WatchPollIntervalMillisecondsMin or > ConfigLimits.WatchPollIntervalMillisecondsMax)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"ConfigOptions.WatchPollInterval must be {ConfigLimits.WatchPollIntervalMillisecondsMin} to {ConfigLimits.WatchPollIntervalMillisecondsMax} ms, not {poll} ms."));
        }
        if (WatchWriteStallTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("ConfigOptions.WatchWriteStallTimeout must be positive.");
        }
    }
}
