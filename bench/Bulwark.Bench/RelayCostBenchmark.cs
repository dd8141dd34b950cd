using System.Globalization;
using Bulwark.Lab.Nats;
using Bulwark.Lab.Postgres;

namespace Bulwark.Bench;

/// <summary>
/// <c>bench ledger --event-log none,file,...</c>: the ledger at one offered load, one run per event
/// log in the order given (so "none,file,none,file" alternates), in one process and against one
/// database server and one nats-server started once for all the runs. A short run first, not
/// reported, pays for the process's JIT so that the first reported row is comparable.
/// </summary>
public static class RelayCostBenchmark
{
    public static async Task<RelayCostRuns> RunAsync(LedgerBenchmarkOptions options, IReadOnlyList<string> eventLogs, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(eventLogs);
        ArgumentNullException.ThrowIfNull(output);
        if (eventLogs.Count == 0)
        {
            throw new ArgumentException("At least one event log (none, file or nats).", nameof(eventLogs));
        }
        var loadBefore = LedgerBenchmark.LoadAverage();
        using var postgres = options.Store == "postgres" && options.PostgresConnectionString is null
            ? TemporaryPostgresServer.Start(durable: true, maxConnections: Math.Max(100, options.Clients + 20))
            : null;
        using var nats = eventLogs.Any(eventLog => eventLog.StartsWith("nats", StringComparison.Ordinal)) && options.NatsUrl is null ? TemporaryNatsServer.Start() : null;
        var servers = new List<string>();
        if (postgres is not null)
        {
            output.WriteLine($"started a temporary durable PostgreSQL ({postgres.Version}) in {postgres.Root} on port {postgres.Port}");
            servers.Add($"a temporary durable PostgreSQL ({postgres.Version}, fsync on) started by the bench");
        }
        if (nats is not null)
        {
            output.WriteLine($"started a temporary nats-server ({nats.Version}) with JetStream in {nats.Root} on port {nats.Port}");
            servers.Add($"a temporary {nats.Version} with JetStream (file storage, one server, stream replicas 1) started by the bench on loopback");
        }
        var postgresPid = postgres is null ? null : ProcessTreeCpu.PidFromFile(Path.Combine(postgres.DataDirectory, "postmaster.pid"));
        var natsPid = nats?.Pid;
        var shared = options with
        {
            ServerCpu = postgresPid is null && natsPid is null ? null : () => Sum(ProcessTreeCpu.Of(postgresPid ?? -1), ProcessTreeCpu.Of(natsPid ?? -1), postgresPid is not null, natsPid is not null),
            PostgresConnectionString = options.PostgresConnectionString ?? postgres?.ConnectionString(),
            NatsUrl = options.NatsUrl ?? nats?.Url,
        };
        var warmup = shared with { EventLog = eventLogs[0], Warmup = TimeSpan.Zero, Duration = options.Warmup > TimeSpan.FromSeconds(3) ? options.Warmup : TimeSpan.FromSeconds(3) };
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up run, not reported ({warmup.Duration.TotalSeconds:0.#} s):"));
        await LedgerBenchmark.RunAsync(warmup, TextWriter.Null, cancellationToken);
        var results = new List<LedgerBenchmarkResult>();
        foreach (var eventLog in eventLogs)
        {
            results.Add(await LedgerBenchmark.RunAsync(shared with { EventLog = eventLog }, output, cancellationToken));
        }
        return new RelayCostRuns(results, loadBefore, LedgerBenchmark.LoadAverage(), servers);
    }

    /// <summary>The servers' CPU together; null when one that runs cannot be read (a partial sum would mislead).</summary>
    private static TimeSpan? Sum(TimeSpan? postgres, TimeSpan? nats, bool hasPostgres, bool hasNats)
    {
        if ((hasPostgres && postgres is null) || (hasNats && nats is null))
        {
            return null;
        }
        return (postgres ?? TimeSpan.Zero) + (nats ?? TimeSpan.Zero);
    }
}

/// <summary>The runs of one relay-cost benchmark, with the machine's load averages around them and the servers it started.</summary>
public sealed record RelayCostRuns(IReadOnlyList<LedgerBenchmarkResult> Results, string? LoadBefore, string? LoadAfter, IReadOnlyList<string> Servers);
