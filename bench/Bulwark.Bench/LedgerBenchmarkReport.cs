using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Bulwark.Bench;

/// <summary>Writes benchmark results for bench/results/: JSON for tools, markdown for people.</summary>
public static class LedgerBenchmarkReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string ToJson(IReadOnlyList<LedgerBenchmarkResult> results) => JsonSerializer.Serialize(results, Json);

    public static string ToMarkdown(IReadOnlyList<LedgerBenchmarkResult> results, string? notes = null)
    {
        ArgumentNullException.ThrowIfNull(results);
        var text = new StringBuilder();
        var store = results.Count > 0 && results[0].Store == "postgres" ? "PostgreSQL" : "embedded SQLite";
        var cells = results.Count > 0 && results[0].Cells is not null ? ", cells through the router" : "";
        text.AppendLine(CultureInfo.InvariantCulture, $"# Ledger benchmark ({store}, durable{cells})");
        text.AppendLine();
        if (results.Count > 0 && results[0].Cells is not null)
        {
            AppendCells(text, results);
            if (!string.IsNullOrWhiteSpace(notes))
            {
                text.AppendLine().AppendLine(notes.Trim());
            }
            return text.ToString();
        }
        if (results.Count > 0)
        {
            var first = results[0];
            text.AppendLine(CultureInfo.InvariantCulture, $"Run {first.StartedAt:yyyy-MM-dd HH:mm} UTC on {first.ProcessorCount} cores, {first.Runtime}; {first.StoreVersion ?? first.Store}; {first.Accounts:N0} accounts; straight to the engine API (no gRPC); a transfer counts once its call returned (batch committed durably).");
            text.AppendLine();
        }
        text.AppendLine("| clients | transfers per call | ids | seconds | durable transfers/s | call p50 ms | call p99 ms | call max ms | writer batches | avg writer batch | process CPU µs per transfer | load average |");
        text.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Clients} | {r.BatchSize:N0} | {(r.TimeOrderedIds ? "time-ordered" : "random")} | {r.DurationSeconds:N1} | {r.TransfersPerSecond:N0} | {r.LatencyP50Milliseconds:N2} | {r.LatencyP99Milliseconds:N2} | {r.LatencyMaxMilliseconds:N2} | {r.WriterBatches:N0} | {r.AverageWriterBatchSize:N1} | {r.CpuMicrosecondsPerTransfer?.ToString("N1", CultureInfo.InvariantCulture) ?? "-"} | {r.LoadAverage ?? "-"} |");
        }
        if (results.Any(r => r.EventLog is not null))
        {
            AppendEventLog(text, results);
        }
        if (results.Any(r => r.Pgbench is not null))
        {
            text.AppendLine();
            text.AppendLine("## Against pgbench tpcb-like on the same server, same run");
            text.AppendLine();
            text.AppendLine("| clients | ledger transfers/s | pgbench tps | ratio | ledger call p50 ms | pgbench latency avg ms | pgbench scale | pgbench command |");
            text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var r in results.Where(r => r.Pgbench is not null))
            {
                var p = r.Pgbench!;
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Clients} | {r.TransfersPerSecond:N0} | {p.TransactionsPerSecond:N0} | {r.RatioToPgbench:N2}x | {r.LatencyP50Milliseconds:N2} | {p.LatencyAverageMilliseconds:N2} | {p.Scale} | `{p.RunCommand}` |");
            }
        }
        if (!string.IsNullOrWhiteSpace(notes))
        {
            text.AppendLine().AppendLine(notes.Trim());
        }
        return text.ToString();
    }

    /// <summary>The table of runs on cells: throughput, latency and CPU beside the cross-cell share achieved and the money check.</summary>
    private static void AppendCells(StringBuilder text, IReadOnlyList<LedgerBenchmarkResult> results)
    {
        var first = results[0];
        text.AppendLine(CultureInfo.InvariantCulture, $"Run {first.StartedAt:yyyy-MM-dd HH:mm} UTC on {first.ProcessorCount} cores, {first.Runtime}; {first.StoreVersion ?? first.Store}; {first.Accounts:N0} accounts; {first.Clients} clients x {first.BatchSize:N0} transfers per call; every call through the placement router and gRPC to real cells (a store and writer each); a transfer counts once its call returned (durable). Money: after each run the owed credit legs are drained, then the transit accounts and the bench's accounts must each net to zero and the ledger checker must pass over every cell.");
        text.AppendLine();
        text.AppendLine("| cells | cross-cell asked | cross-cell achieved | seconds | durable transfers/s | call p50 ms | call p99 ms | call max ms | process CPU µs per transfer | writer batches | avg writer batch | retriable | failed calls | legs drained in s | transit net | money | load average |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Cells} | {r.CrossCellPercent}% | {r.CrossCellShare:N1}% | {r.DurationSeconds:N1} | {r.TransfersPerSecond:N0} | {r.LatencyP50Milliseconds:N2} | {r.LatencyP99Milliseconds:N2} | {r.LatencyMaxMilliseconds:N2} | {r.CpuMicrosecondsPerTransfer?.ToString("N1", CultureInfo.InvariantCulture) ?? "-"} | {r.WriterBatches:N0} | {r.AverageWriterBatchSize:N1} | {r.RetriableRefusals:N0} | {r.FailedCalls:N0} | {r.CreditLegDrainSeconds:N2} | {r.TransitNet} | {(r.MoneyConserved == true ? "conserved" : "NOT CONSERVED")} | {r.LoadAverage ?? "-"} |");
        }
    }

    /// <summary>
    /// The relay's cost and lag: each run beside the mean of the runs without a log ("none") in the
    /// same process, as process CPU per transfer (the figure that holds on a shared machine; at a
    /// fixed offered load transfers/s is the load itself unless the ledger could not keep up).
    /// </summary>
    private static void AppendEventLog(StringBuilder text, IReadOnlyList<LedgerBenchmarkResult> results)
    {
        var baseline = results.Where(r => r.EventLog == "none" && r.CpuMicrosecondsPerTransfer is not null).Select(r => r.CpuMicrosecondsPerTransfer!.Value).DefaultIfEmpty(double.NaN).Average();
        var totalBaseline = results.Where(r => r.EventLog == "none" && TotalCpu(r) is not null).Select(r => TotalCpu(r)!.Value).DefaultIfEmpty(double.NaN).Average();
        text.AppendLine();
        text.AppendLine("## With and without the event log (relay publishing), same process");
        text.AppendLine();
        text.AppendLine("Lag per event: the time the relay's append of the event to the log returned minus the time its batch committed, for every event committed in the measured phase (events per transfer: those events over the transfers committed; the writer makes one event per partition a batch touched, so small batches make more). Lag in events: the relay's own gauge (committed, not yet in the log), sampled every 100 ms. Servers' CPU: the PostgreSQL server and the nats-server the bench started, when it started them (not in the process CPU); total: the two together, the figure to compare when the servers do part of the relay's work (the outbox read and pruning in PostgreSQL, the publish in NATS).");
        text.AppendLine();
        text.AppendLine("| event log | offered transfers/s | durable transfers/s | process CPU µs per transfer | CPU vs no log | servers' CPU µs per transfer | total CPU µs per transfer | total vs no log | events per transfer | lag p50 ms | lag p99 ms | lag max ms | lag events p50 | lag events p99 | lag events max | caught up after load s | load average |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results.Where(r => r.EventLog is not null))
        {
            var totalVersus = r.EventLog != "none" && TotalCpu(r) is { } total && !double.IsNaN(totalBaseline) && totalBaseline > 0
                ? ((total / totalBaseline) - 1).ToString("+0.0 %;-0.0 %", CultureInfo.InvariantCulture)
                : "-";
            var versus = r.EventLog != "none" && r.CpuMicrosecondsPerTransfer is { } cpu && !double.IsNaN(baseline) && baseline > 0
                ? ((cpu / baseline) - 1).ToString("+0.0 %;-0.0 %", CultureInfo.InvariantCulture)
                : "-";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.EventLog} | {(r.OfferedTransfersPerSecond is { } rate ? rate.ToString("N0", CultureInfo.InvariantCulture) : "flat out")} | {r.TransfersPerSecond:N0} | {r.CpuMicrosecondsPerTransfer?.ToString("N1", CultureInfo.InvariantCulture) ?? "-"} | {versus} | {Figure(r.ServerCpuMicrosecondsPerTransfer)} | {Figure(TotalCpu(r))} | {totalVersus} | {(r.EventsLagMeasured is { } events && r.TransfersCommitted > 0 ? (events / (double)r.TransfersCommitted).ToString("N2", CultureInfo.InvariantCulture) : "-")} | {Figure(r.LagP50Milliseconds)} | {Figure(r.LagP99Milliseconds)} | {Figure(r.LagMaxMilliseconds)} | {Figure(r.LagEventsP50)} | {Figure(r.LagEventsP99)} | {Figure(r.LagEventsMax)} | {Figure(r.RelayCatchUpSeconds)} | {r.LoadAverage ?? "-"} |");
        }
    }

    /// <summary>The bench process's CPU and the servers' per transfer; null when the servers' is not known.</summary>
    private static double? TotalCpu(LedgerBenchmarkResult result) =>
        result.CpuMicrosecondsPerTransfer is { } process && result.ServerCpuMicrosecondsPerTransfer is { } servers ? process + servers : null;

    private static string Figure(double? value) => value?.ToString("N1", CultureInfo.InvariantCulture) ?? "-";

    private static string Figure(long? value) => value?.ToString("N0", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>
    /// Writes a relay-cost benchmark: <c>NAME.json</c> (the command, the machine, the load averages
    /// before and after, the servers started, every run) and <c>NAME.md</c>; returns both paths.
    /// </summary>
    public static (string Json, string Markdown) WriteRelayCost(string directory, string name, RelayCostRuns runs, string command, string notes)
    {
        ArgumentNullException.ThrowIfNull(runs);
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, name + ".json");
        var markdown = Path.Combine(directory, name + ".md");
        var document = new
        {
            Command = command,
            Machine = Machine(),
            LoadAverageBefore = runs.LoadBefore,
            LoadAverageAfter = runs.LoadAfter,
            runs.Servers,
            Runs = runs.Results,
        };
        File.WriteAllText(json, JsonSerializer.Serialize(document, Json) + "\n");
        File.WriteAllText(markdown, ToMarkdown(runs.Results, notes));
        return (json, markdown);
    }

    /// <summary>Cores, operating system and runtime, for the files.</summary>
    public static string Machine() => string.Create(CultureInfo.InvariantCulture,
        $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");

    /// <summary>Writes <c>NAME.json</c> and <c>NAME.md</c> into <paramref name="directory"/>; returns both paths.</summary>
    public static (string Json, string Markdown) Write(string directory, string name, IReadOnlyList<LedgerBenchmarkResult> results, string? notes = null)
    {
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, name + ".json");
        var markdown = Path.Combine(directory, name + ".md");
        File.WriteAllText(json, ToJson(results) + "\n");
        File.WriteAllText(markdown, ToMarkdown(results, notes));
        return (json, markdown);
    }
}
