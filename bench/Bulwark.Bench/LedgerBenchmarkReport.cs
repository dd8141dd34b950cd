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
