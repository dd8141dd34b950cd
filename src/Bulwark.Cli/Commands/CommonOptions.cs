using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Bulwark.Cli.Commands;

/// <summary>Options and parsers shared by several commands.</summary>
internal static class CommonOptions
{
    public const string DataDirectoryDefault = ".bulwark";

    public static Option<DirectoryInfo> Data() => new("--data")
    {
        Description = "Directory holding the bank's embedded data (SQLite files, keys, logs).",
        DefaultValueFactory = _ => new DirectoryInfo(DataDirectoryDefault),
    };

    /// <summary>An optional <c>--store postgres://user[:password]@host[:port]/database</c>, checked when parsed.</summary>
    public static Option<string?> PostgresStore(string description)
    {
        var store = new Option<string?>("--store") { Description = description };
        store.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } url)
            {
                try
                {
                    Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url);
                }
                catch (FormatException error)
                {
                    result.AddError($"--store: {error.Message}");
                }
            }
        });
        return store;
    }

    /// <summary>
    /// The environment variable <c>bulwark run</c> and <c>bulwark serve</c> read the PostgreSQL URL
    /// from when <c>--store</c> is absent. A password in it stays off the command line, which every
    /// user of the machine can read (<c>ps</c>, <c>/proc/PID/cmdline</c>); a process's environment
    /// only its owner (and root) can read. <c>bulwark cluster up</c> passes the URL to its children this way.
    /// </summary>
    public const string StoreVariable = Bulwark.Lab.Cluster.ClusterState.StoreVariable;

    /// <summary>The sentence <c>--store</c>'s help ends with: where else the URL can come from, and which way to prefer.</summary>
    public const string StoreHelp = "A password on the command line is visible to every user in ps: prefer " + StoreVariable + ", or a URL without password with ~/.pgpass, PGPASSFILE or PGPASSWORD (read by the PostgreSQL driver).";

    /// <summary>
    /// The PostgreSQL connection string from <c>--store</c> (already checked when parsed), else from
    /// <see cref="StoreVariable"/> (empty counts as absent), else null for SQLite. A bad URL in the
    /// variable is returned as an error naming the variable, never with its password.
    /// </summary>
    public static (string? ConnectionString, string? Error) PostgresConnectionString(string? option)
    {
        var url = option ?? Environment.GetEnvironmentVariable(StoreVariable);
        if (string.IsNullOrEmpty(url))
        {
            return (null, null);
        }
        try
        {
            return (Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url), null);
        }
        catch (FormatException error)
        {
            return (null, $"{(option is null ? StoreVariable : "--store")}: {error.Message}");
        }
    }

    /// <summary>A TCP port on 127.0.0.1, 0-65535; 0 means a free one, chosen when the listener binds.</summary>
    public static Option<int> Port(string name, string description, int defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            // Parsed here rather than validated afterwards: a validator cannot read a value that is not a number.
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= 65_535)
            {
                return value;
            }
            result.AddError($"{name} must be 0-65535, not '{text}'.");
            return defaultValue;
        },
    };

    /// <summary>A duration such as 500ms, 30s, 2m or 1h; a bare number is seconds.</summary>
    public static Option<TimeSpan?> Duration(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result => ParseDuration(result, name),
    };

    internal static TimeSpan? ParseDuration(ArgumentResult result, string name)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (TryParseDuration(text, out var duration))
        {
            return duration;
        }
        result.AddError($"{name}: '{text}' is not a duration: use a positive number with ms, s, m or h, e.g. 30s.");
        return null;
    }

    internal static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || value <= 0 || value * unit > TimeSpan.FromDays(365).TotalSeconds)
        {
            return false;
        }
        duration = TimeSpan.FromSeconds(value * unit);
        return true;
    }

    /// <summary>
    /// A whole number from 1 to <paramref name="max"/>. Parsed rather than validated: a validator
    /// reading a value that is not a number (e.g. <c>--rate abc</c>) throws instead of reporting.
    /// </summary>
    public static Option<int> PositiveInt(string name, string description, int defaultValue, int max) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max)
            {
                return value;
            }
            result.AddError($"{name} must be between 1 and {max:N0}, got {text}.");
            return defaultValue;
        },
    };
}
