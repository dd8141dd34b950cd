using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Bulwark.Storage.Postgres;
using Npgsql;

namespace Bulwark.Lab.Postgres;

/// <summary>
/// A throw-away PostgreSQL server for tests and benchmarks: <c>initdb</c> into a fresh temp
/// directory, <c>pg_ctl start</c> on a free loopback port with its unix socket inside that
/// directory, and on dispose <c>pg_ctl stop -m fast</c> (by its own data directory, so its own PID
/// file) and the directory removed. When this process runs as root the server runs as the
/// <c>postgres</c> user (PostgreSQL refuses root), through <c>runuser</c>.
/// </summary>
public sealed class TemporaryPostgresServer : IDisposable
{
    private const string SuperUser = "postgres";
    private readonly string _bin;
    private readonly bool _asPostgresUser;
    private bool _disposed;

    private static readonly Lazy<TemporaryPostgresServer> SharedServer = new(() =>
    {
        var server = Start();
        server.RemoveWhenThisProcessExits();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeImmediately();
        return server;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    private static int _databases;

    private TemporaryPostgresServer(string bin, string root, bool asPostgresUser, int port)
    {
        _bin = bin;
        Root = root;
        _asPostgresUser = asPostgresUser;
        Port = port;
    }

    public string Root { get; }

    public string DataDirectory => Path.Combine(Root, "data");

    public int Port { get; }

    /// <summary>The server's major version as its binaries report it (e.g. "15.14").</summary>
    public string Version => RunTool("postgres", "--version").Trim();

    public string BinDirectory => _bin;

    /// <summary>A connection string to <paramref name="database"/> as the superuser over TCP loopback.</summary>
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Database = database,
        // Tests and benches open many short-lived databases; keep pools small.
        MaxPoolSize = 32,
    }.ConnectionString;

    /// <summary>The postgres:// URL of <paramref name="database"/>.</summary>
    public string Url(string database = "postgres") =>
        string.Create(CultureInfo.InvariantCulture, $"postgres://{SuperUser}@127.0.0.1:{Port}/{database}");

    /// <summary>
    /// Starts a new server. <paramref name="durable"/> false turns fsync off (tests: a process or
    /// <c>pg_ctl -m immediate</c> crash still keeps everything the OS has; only a machine crash
    /// would not); benchmarks keep the stock durable settings.
    /// </summary>
    public static TemporaryPostgresServer Start(bool durable = false, int maxConnections = 100)
    {
        var bin = FindBinDirectory();
        var asPostgres = Environment.UserName == "root" || string.Equals(Environment.GetEnvironmentVariable("USER"), "root", StringComparison.Ordinal);
        RemoveStale();
        var root = Path.Combine(Path.GetTempPath(), "bulwark-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var server = new TemporaryPostgresServer(bin, root, asPostgres, FreePort());
        try
        {
            if (asPostgres)
            {
                Run("chown", ["-R", SuperUser + ":", root], root);
            }
            server.RunTool("initdb", "-D", server.DataDirectory, "-U", SuperUser, "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C");
            var settings = new List<string>
            {
                $"listen_addresses = '127.0.0.1'",
                string.Create(CultureInfo.InvariantCulture, $"port = {server.Port}"),
                $"unix_socket_directories = '{root}'",
                string.Create(CultureInfo.InvariantCulture, $"max_connections = {maxConnections}"),
                "shared_buffers = 128MB",
                "synchronous_commit = on",
            };
            if (!durable)
            {
                settings.Add("fsync = off");
                settings.Add("full_page_writes = off");
            }
            File.AppendAllLines(Path.Combine(server.DataDirectory, "postgresql.conf"), settings);
            server.StartServer();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a detached watchdog (<c>setsid sh</c>) that, once this process has exited however it
    /// ended, stops the server with <c>-m immediate</c> and removes its directory. For test hosts,
    /// which may be ended before their exit handlers finish: no server outlives its test run.
    /// </summary>
    public void RemoveWhenThisProcessExits()
    {
        var pgCtl = Path.Combine(_bin, "pg_ctl");
        var stop = _asPostgresUser ? $"runuser -u {SuperUser} -- {pgCtl}" : pgCtl;
        var script = string.Create(CultureInfo.InvariantCulture,
            $"exec >/dev/null 2>&1 </dev/null; while kill -0 {Environment.ProcessId}; do sleep 1; done; " +
            $"if [ -f '{DataDirectory}/postmaster.pid' ]; then {stop} -D '{DataDirectory}' -m immediate -w stop; fi; rm -rf '{Root}'");
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var argument in (string[])["sh", "-c", script])
        {
            info.ArgumentList.Add(argument);
        }
        using var watchdog = Process.Start(info) ?? throw new InvalidOperationException("Could not start the PostgreSQL watchdog.");
    }

    /// <summary>Starts the stopped server again (after <see cref="StopImmediate"/>), on the same port.</summary>
    public void StartServer() =>
        RunTool("pg_ctl", "-D", DataDirectory, "-l", Path.Combine(Root, "server.log"), "-w", "-t", "60", "start");

    /// <summary><c>pg_ctl stop -m immediate</c>: the server quits without a checkpoint, as in a crash; recovery replays the WAL on the next start.</summary>
    public void StopImmediate() => RunTool("pg_ctl", "-D", DataDirectory, "-m", "immediate", "-w", "stop");

    /// <summary>
    /// One server for this whole process (a test assembly): started on first use, not durable,
    /// stopped and removed when the process exits however it ends. Each user takes a database of
    /// its own (<see cref="CreateUniqueDatabase"/>).
    /// </summary>
    public static TemporaryPostgresServer Shared => SharedServer.Value;

    /// <summary>Creates an empty database named <paramref name="prefix"/>_N (unique in this process) and returns its connection string.</summary>
    public string CreateUniqueDatabase(string prefix) =>
        CreateDatabase(string.Create(CultureInfo.InvariantCulture, $"{prefix}_{Interlocked.Increment(ref _databases)}"));

    /// <summary>Creates a database and returns its connection string.</summary>
    public string CreateDatabase(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using var connection = new NpgsqlConnection(ConnectionString());
        connection.Open();
        using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        command.ExecuteNonQuery();
        return ConnectionString(name);
    }

    /// <summary>Runs one of the server's tools (as the postgres user when we are root) and returns its standard output; throws with its error output on failure.</summary>
    public string RunTool(string tool, params string[] arguments)
    {
        var path = Path.Combine(_bin, tool);
        return _asPostgresUser
            ? Run("runuser", ["-u", SuperUser, "--", path, .. arguments], Root)
            : Run(path, arguments, Root);
    }

    /// <summary>Starts one of the server's tools without waiting (e.g. pgbench for a benchmark run).</summary>
    public ProcessStartInfo ToolStartInfo(string tool, params string[] arguments)
    {
        var path = Path.Combine(_bin, tool);
        var info = _asPostgresUser ? new ProcessStartInfo("runuser") : new ProcessStartInfo(path);
        if (_asPostgresUser)
        {
            foreach (var argument in (string[])["-u", SuperUser, "--", path])
            {
                info.ArgumentList.Add(argument);
            }
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.WorkingDirectory = Root;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        return info;
    }

    public void Dispose() => Remove("fast");

    /// <summary>
    /// Stops with <c>-m immediate</c> (no shutdown checkpoint) and removes the directory: for a
    /// process-exit handler, which the test host gives little time, and data nobody keeps.
    /// </summary>
    public void DisposeImmediately() => Remove("immediate");

    private void Remove(string mode)
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                RunTool("pg_ctl", "-D", DataDirectory, "-m", mode, "-w", "-t", "30", "stop");
            }
        }
        catch (InvalidOperationException)
        {
            // Already stopped, or never started; the directory goes either way.
        }
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Removes directories of earlier servers that were stopped but not removed (a test host may be
    /// ended before its exit handler finishes): no PID file, untouched for an hour. A live server
    /// always has its PID file, so another run's server is never touched.
    /// </summary>
    private static void RemoveStale()
    {
        foreach (var directory in Directory.EnumerateDirectories(Path.GetTempPath(), "bulwark-pg-*"))
        {
            try
            {
                if (!File.Exists(Path.Combine(directory, "data", "postmaster.pid")) &&
                    Directory.GetLastWriteTimeUtc(directory) < DateTime.UtcNow.AddHours(-1) &&
                    File.GetLastWriteTimeUtc(Path.Combine(directory, "server.log")) < DateTime.UtcNow.AddHours(-1))
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                // Someone else's, or going away already.
            }
        }
    }

    /// <summary>The newest installed PostgreSQL's bin directory, or BULWARK_PG_BIN when set.</summary>
    public static string FindBinDirectory() =>
        PostgresBinaries.Find("initdb") ?? throw new InvalidOperationException(
            "No PostgreSQL server binaries found under /usr/lib/postgresql/*/bin (install the Debian package 'postgresql'), and " + PostgresBinaries.Variable + " is not set.");

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Run(string file, IReadOnlyList<string> arguments, string workingDirectory)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} did not finish within 2 minutes.");
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {error.Result.Trim()} {output.Result.Trim()}"));
        }
        return output.Result;
    }
}
