using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Bulwark.Lab.Postgres;
using Bulwark.Storage.Postgres;
using Npgsql;

namespace Bulwark.Bench;

/// <summary>
/// Runs PostgreSQL's own yardstick, <c>pgbench -b tpcb-like</c> (update an account, a teller and
/// a branch, insert a history row: a bank transfer, one transaction each), in a fresh database on
/// the given server: <c>pgbench -i -s SCALE</c> with SCALE = clients (so clients do not all queue
/// on one branch row, as pgbench itself advises), then <c>-c C -j min(C, cores) -T D</c>. The
/// database is dropped afterwards.
/// </summary>
public static partial class Pgbench
{
    public static PgbenchResult Run(string adminConnectionString, string database, int clients, TimeSpan duration, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var connectionString = LedgerBenchmark.CreateDatabase(adminConnectionString, database);
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            var tool = Path.Combine(TemporaryPostgresServer.FindBinDirectory(), "pgbench");
            var scale = Math.Max(1, clients);
            var threads = Math.Min(clients, Environment.ProcessorCount);
            var seconds = Math.Max(1, (int)Math.Round(duration.TotalSeconds));
            string[] connect = ["-h", builder.Host!, "-p", builder.Port.ToString(CultureInfo.InvariantCulture), "-U", builder.Username ?? "postgres"];
            string[] init = [.. connect, "-i", "-q", "-s", scale.ToString(CultureInfo.InvariantCulture), database];
            string[] run = [.. connect, "-b", "tpcb-like", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", threads.ToString(CultureInfo.InvariantCulture), "-T", seconds.ToString(CultureInfo.InvariantCulture), database];
            output.WriteLine($"pgbench: pgbench {string.Join(' ', init)}");
            Execute(tool, init, builder.Password, TimeSpan.FromMinutes(10), cancellationToken);
            output.WriteLine($"pgbench: pgbench {string.Join(' ', run)}");
            var text = Execute(tool, run, builder.Password, duration + TimeSpan.FromMinutes(2), cancellationToken);
            var tps = double.Parse(Tps().Match(text).Groups[1].Value, CultureInfo.InvariantCulture);
            var latency = double.Parse(Latency().Match(text).Groups[1].Value, CultureInfo.InvariantCulture);
            var transactions = long.Parse(Processed().Match(text).Groups[1].Value, CultureInfo.InvariantCulture);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  pgbench tpcb-like: {tps:N0} transactions/s ({transactions:N0} in {seconds} s), latency average {latency:N2} ms"));
            return new PgbenchResult(clients, threads, scale, seconds, transactions, Math.Round(tps, 1), latency,
                "pgbench " + string.Join(' ', init), "pgbench " + string.Join(' ', run));
        }
        finally
        {
            LedgerBenchmark.DropDatabase(adminConnectionString, database);
        }
    }

    private static string Execute(string tool, string[] arguments, string? password, TimeSpan limit, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        if (password is not null)
        {
            info.Environment["PGPASSWORD"] = password;
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {tool}.");
        using var cancel = cancellationToken.Register(() => process.Kill(entireProcessTree: true));
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"pgbench did not finish within {limit.TotalSeconds:N0} s.");
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"pgbench {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr.Result.Trim()}");
        }
        return stdout.Result + stderr.Result;
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex Tps();

    [GeneratedRegex(@"latency average = ([0-9.]+) ms")]
    private static partial Regex Latency();

    [GeneratedRegex(@"number of transactions actually processed: ([0-9]+)")]
    private static partial Regex Processed();
}
