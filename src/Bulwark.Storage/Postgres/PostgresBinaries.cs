using System.Globalization;

namespace Bulwark.Storage.Postgres;

/// <summary>Where PostgreSQL's programs are: <c>BULWARK_PG_BIN</c>, else Debian's newest <c>/usr/lib/postgresql/N/bin</c>.</summary>
public static class PostgresBinaries
{
    public const string Variable = "BULWARK_PG_BIN";
    private const string Installed = "/usr/lib/postgresql";

    /// <summary>
    /// <c>BULWARK_PG_BIN</c> when set; else the newest <c>/usr/lib/postgresql/N/bin</c> holding
    /// <paramref name="tool"/> (the programs on Debian's PATH are wrappers that need a local
    /// cluster configuration); else null.
    /// </summary>
    public static string? Find(string tool)
    {
        var configured = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }
        var newest = Directory.Exists(Installed)
            ? Directory.GetDirectories(Installed)
                .Where(directory => File.Exists(Path.Combine(directory, "bin", tool)))
                .OrderByDescending(directory => int.TryParse(Path.GetFileName(directory), NumberStyles.Integer, CultureInfo.InvariantCulture, out var version) ? version : 0)
                .FirstOrDefault()
            : null;
        return newest is null ? null : Path.Combine(newest, "bin");
    }
}
