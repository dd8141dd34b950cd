using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Bulwark.Storage.Postgres;

/// <summary>
/// Logical backups of Bulwark's schemas with PostgreSQL's own tools: <c>pg_dump</c> (one
/// consistent snapshot of every schema it is given, taken while the bank runs) and
/// <c>pg_restore</c> (into an empty database, in one transaction, stopping at the first error).
/// The connection goes to the tools through the PG* environment variables, so a password never
/// appears on a command line. Failures are <see cref="IOException"/>s naming the tool, the
/// server and what the tool said.
/// </summary>
public static class PostgresDump
{
    /// <summary>How long a dump or restore may take before it is stopped and reported.</summary>
    public static readonly TimeSpan ToolTimeout = TimeSpan.FromHours(2);

    /// <summary>
    /// Dumps <paramref name="schemas"/> into <paramref name="file"/> (custom format, compressed,
    /// no owners or grants so it restores under any role). With <paramref name="snapshot"/> (from
    /// <c>pg_export_snapshot()</c> in a transaction the caller keeps open meanwhile) the dump is
    /// that moment's, which the caller may also have read.
    /// </summary>
    public static void Dump(string connectionString, IReadOnlyList<string> schemas, string file, string? snapshot = null)
    {
        ArgumentNullException.ThrowIfNull(schemas);
        List<string> arguments = ["--format=custom", "--no-owner", "--no-privileges", "--file", file];
        if (snapshot is not null)
        {
            arguments.Add("--snapshot=" + snapshot);
        }
        foreach (var schema in schemas)
        {
            arguments.Add("--schema=" + schema);
        }
        Run("pg_dump", connectionString, arguments);
    }

    /// <summary>The archive's table of contents (<c>pg_restore --list</c>): proves the file is a whole, readable archive.</summary>
    public static IReadOnlyList<string> ListContents(string file) =>
        Run("pg_restore", connectionString: null, ["--list", file])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith(';'))
            .ToList();

    /// <summary>Restores an archive into the database, all or nothing.</summary>
    public static void Restore(string connectionString, string file) =>
        Run("pg_restore", connectionString, ["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges", "--dbname", DatabaseName(connectionString), file]);

    /// <summary>Which of <paramref name="schemas"/> exist in the database.</summary>
    public static IReadOnlyList<string> ExistingSchemas(string connectionString, IReadOnlyList<string> schemas)
    {
        using var dataSource = NpgsqlDataSource.Create(connectionString);
        using var connection = PostgresConnections.Open(dataSource);
        using var command = new NpgsqlCommand("SELECT nspname FROM pg_namespace WHERE nspname = ANY(@names) ORDER BY nspname", connection);
        command.Parameters.AddWithValue("names", schemas.ToArray());
        using var reader = command.ExecuteReader();
        var found = new List<string>();
        while (reader.Read())
        {
            found.Add(reader.GetString(0));
        }
        return found;
    }

    /// <summary>The directory of PostgreSQL's client tools (<see cref="PostgresBinaries.Find"/>).</summary>
    public static string FindToolDirectory() =>
        PostgresBinaries.Find("pg_dump") ?? throw new IOException(
            "pg_dump and pg_restore were not found under /usr/lib/postgresql/*/bin (install the Debian package 'postgresql-client'), and " + PostgresBinaries.Variable + " is not set.");

    private static string DatabaseName(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Database
        ?? throw new IOException("The connection string names no database.");

    private static string Run(string tool, string? connectionString, IReadOnlyList<string> arguments)
    {
        var info = new ProcessStartInfo(Path.Combine(FindToolDirectory(), tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var where = "";
        if (connectionString is not null)
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            info.Environment["PGHOST"] = builder.Host;
            info.Environment["PGPORT"] = builder.Port.ToString(CultureInfo.InvariantCulture);
            info.Environment["PGDATABASE"] = builder.Database;
            info.Environment["PGUSER"] = builder.Username;
            info.Environment["PGPASSWORD"] = builder.Password;
            info.Environment["PGSSLMODE"] = builder.SslMode.ToString().ToLowerInvariant();
            info.Environment["PGCONNECT_TIMEOUT"] = "10";
            where = " against " + PostgresConnections.Describe(connectionString);
        }
        using var process = Process.Start(info) ?? throw new IOException($"{tool} could not be started.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(ToolTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new IOException($"{tool}{where} did not finish within {ToolTimeout.TotalMinutes:0} minutes and was stopped.");
        }
        var said = error.GetAwaiter().GetResult().Trim();
        if (process.ExitCode != 0)
        {
            throw new IOException($"{tool}{where} failed (exit {process.ExitCode}): {FirstLines(said)}");
        }
        return output.GetAwaiter().GetResult();
    }

    private static string FirstLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no message)" : string.Join(" ", lines.Take(3));
    }
}
