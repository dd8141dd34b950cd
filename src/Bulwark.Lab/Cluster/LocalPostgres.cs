using System.Diagnostics;
using System.Globalization;
using Bulwark.Lab.Postgres;
using Bulwark.Storage.Postgres;
using Npgsql;

namespace Bulwark.Lab.Cluster;

/// <summary>The PostgreSQL server the local cluster runs itself (<c>--store postgres</c>).</summary>
public sealed class PostgresState
{
    public required int Port { get; init; }

    public int Pid { get; set; }
}

/// <summary>
/// A PostgreSQL server of the local cluster's own (<c>cluster up --store postgres</c>): created with
/// initdb in <c>STATE/data/postgres</c> on first use and kept across <c>down</c> and <c>up</c> (the
/// bank's data lives there), started with pg_ctl on a free loopback port, as the <c>postgres</c>
/// user when we are root (PostgreSQL refuses to run as root). Its server log is
/// <c>STATE/data/postgres/server.log</c>, which that user can write. Trust authentication on
/// 127.0.0.1 only: a lab server, not a production one.
/// </summary>
public static class LocalPostgres
{
    public const string Managed = "postgres";
    private const string SuperUser = "postgres";
    private const string Database = "bulwark";
    private const int ToolTimeoutSecondsMax = 90;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);

    public static string DataDirectory(string stateDirectory) => Path.Combine(stateDirectory, "data", "postgres");

    public static string LogPath(string stateDirectory) => Path.Combine(DataDirectory(stateDirectory), "server.log");

    public static string Url(int port) => string.Create(CultureInfo.InvariantCulture, $"postgres://{SuperUser}@127.0.0.1:{port}/{Database}");

    /// <summary>Creates the server when it does not exist, starts it, creates the bank's database; returns its state.</summary>
    public static async Task<PostgresState> StartAsync(string stateDirectory, CancellationToken cancellationToken)
    {
        string bin;
        try
        {
            bin = TemporaryPostgresServer.FindBinDirectory();
        }
        catch (InvalidOperationException exception)
        {
            throw new ClusterException(exception.Message);
        }
        var data = DataDirectory(stateDirectory);
        var asPostgres = Environment.UserName == "root";
        if (!File.Exists(Path.Combine(data, "PG_VERSION")))
        {
            Directory.CreateDirectory(data);
            if (asPostgres)
            {
                await RunAsync("chown", "chown", [$"{SuperUser}:", data], data, cancellationToken);
                // The postgres user must pass through the state directory (etcd makes data/ 0700):
                // search permission only, nobody else can list it.
                foreach (var directory in OperatingSystem.IsWindows() ? [] : new[] { stateDirectory, Path.Combine(stateDirectory, "data") })
                {
                    if (!OperatingSystem.IsWindows())
                    {
                        File.SetUnixFileMode(directory, File.GetUnixFileMode(directory) | UnixFileMode.OtherExecute);
                    }
                }
            }
            try
            {
                await RunToolAsync(bin, asPostgres, "initdb", ["-D", data, "-U", SuperUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], data, cancellationToken);
            }
            catch (ClusterException exception) when (asPostgres)
            {
                LocalEtcd.TryDelete(data);
                throw new ClusterException($"{exception.Message} (PostgreSQL runs as the user postgres, which must be able to reach {data}: choose a --state it can, e.g. under /tmp)");
            }
            await File.AppendAllLinesAsync(Path.Combine(data, "postgresql.conf"),
                ["listen_addresses = '127.0.0.1'", $"unix_socket_directories = '{data}'", "max_connections = 200"], cancellationToken);
        }
        var port = LocalProcesses.FreePort();
        try
        {
            await RunToolAsync(bin, asPostgres, "pg_ctl",
                ["-D", data, "-l", LogPath(stateDirectory), "-o", string.Create(CultureInfo.InvariantCulture, $"-p {port}"), "-w", "-t", "60", "start"], data, cancellationToken);
        }
        catch (ClusterException exception)
        {
            throw new ClusterException($"{exception.Message} (server log: {LogPath(stateDirectory)})");
        }
        var pid = int.Parse((await File.ReadAllLinesAsync(Path.Combine(data, "postmaster.pid"), cancellationToken))[0], CultureInfo.InvariantCulture);
        await CreateDatabaseAsync(port, cancellationToken);
        return new PostgresState { Port = port, Pid = pid };
    }

    /// <summary>Fast shutdown (SIGINT: open sessions are ended, a checkpoint is written), SIGKILL after a bound.</summary>
    public static Task<string> StopAsync(string stateDirectory, PostgresState server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        return LocalProcesses.StopAsync(server.Pid, stateDirectory, StopGrace, cancellationToken, signal: "INT");
    }

    private static async Task CreateDatabaseAsync(int port, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = SuperUser, Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand($"SELECT 1 FROM pg_database WHERE datname = '{Database}'", connection);
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE {Database}", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static Task RunToolAsync(string bin, bool asPostgres, string tool, string[] arguments, string workingDirectory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(bin, tool);
        return asPostgres
            ? RunAsync(tool, "runuser", ["-u", SuperUser, "--", path, .. arguments], workingDirectory, cancellationToken)
            : RunAsync(tool, path, arguments, workingDirectory, cancellationToken);
    }

    private static async Task RunAsync(string name, string file, string[] arguments, string workingDirectory, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        using var process = Process.Start(info) ?? throw new ClusterException($"could not run {file}");
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(ToolTimeoutSecondsMax));
        var output = process.StandardOutput.ReadToEndAsync(bound.Token);
        var error = process.StandardError.ReadToEndAsync(bound.Token);
        await process.WaitForExitAsync(bound.Token);
        if (process.ExitCode != 0)
        {
            var said = string.Join(' ', (await error + " " + await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Trim();
            throw new ClusterException($"PostgreSQL: {name} failed: {said}");
        }
    }
}
