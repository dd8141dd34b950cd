using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Bulwark.Bench;

/// <summary>Writes <c>bench move</c> results for bench/results/: JSON for tools, markdown for people.</summary>
public static class MoveBenchmarkReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string ToJson(MoveBenchmarkResult result) => JsonSerializer.Serialize(result, Json);

    public static string ToMarkdown(MoveBenchmarkResult result, string? notes = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        var r = result;
        var text = new StringBuilder();
        text.AppendLine("# Partition move benchmark (embedded SQLite, two cells, through the router)");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run {r.StartedAt:yyyy-MM-dd HH:mm} UTC on {r.ProcessorCount} cores, {r.Runtime}; {r.StoreVersion}. Partition {r.Partition} of cell {r.Source}, filled with {r.TransfersBuilt:N0} transfers through the router ({r.BuildSeconds:N1} s), moved to cell {r.Target} by the real `PartitionMover` (grace 0, old copy dropped after the flip) while background payments ran on it and on other partitions, one transfer per call through the router.");
        text.AppendLine();
        text.AppendLine("| figure | value |");
        text.AppendLine("|---|---:|");
        Row(text, "transfer rows moved / accounts moved", $"{r.TransferRowsMoved:N0} / {r.AccountsMoved:N0}");
        Row(text, "move, in all (start to map flipped)", $"{r.MoveTotalMilliseconds:N0} ms");
        Row(text, "copy and catch-up (before the pause)", $"{r.CopyMilliseconds:N0} ms");
        Row(text, "write pause: pause to released", $"{r.PauseToReleasedMilliseconds:N0} ms");
        Row(text, "**write pause: pause to the target owning it** (goal < 200 ms)", $"**{r.PauseToOwnedMilliseconds:N0} ms**");
        Row(text, "write pause: pause to the map flipped", $"{r.PauseToMapMilliseconds:N0} ms");
        Row(text, "old copy dropped", $"{r.DropCopyMilliseconds:N0} ms");
        Row(text, "background calls (on the partition)", $"{r.BackgroundCalls:N0} ({r.BackgroundCallsOnPartition:N0})");
        Row(text, "**failed calls** (goal 0)", $"**{r.FailedCalls:N0}**");
        Row(text, "retriable answers reaching the clients", $"{r.RetriableRefusals:N0}");
        Row(text, "refusals the router absorbed (sent again itself)", r.RouterRefusals.Count == 0 ? "0" : string.Join(", ", r.RouterRefusals.Select(pair => $"{pair.Key} {pair.Value:N0}")));
        Row(text, "background call p50 / p99 / max", $"{r.BackgroundP50Milliseconds:N2} / {r.BackgroundP99Milliseconds:N2} / {r.BackgroundMaxMilliseconds:N2} ms");
        Row(text, "longest call during the move: on the partition / only elsewhere", $"{r.PartitionMaxMillisecondsDuringMove:N0} / {r.ElsewhereMaxMillisecondsDuringMove:N0} ms");
        Row(text, "process CPU (load and move)", $"{r.ProcessCpuSeconds:N1} s");
        Row(text, "money (transit net, checker)", $"{(r.MoneyConserved ? "conserved" : "NOT CONSERVED")} ({r.TransitNet}, {(r.CheckerOk ? "ok" : "problems")})");
        Row(text, "goal met (pause < 200 ms, no failed call)", r.GoalMet ? "yes" : "no");
        Row(text, "load average before / after", $"{r.LoadAverageBefore ?? "-"} / {r.LoadAverageAfter ?? "-"}");
        if (!string.IsNullOrWhiteSpace(notes))
        {
            text.AppendLine().AppendLine(notes.Trim());
        }
        return text.ToString();
    }

    /// <summary>Writes <c>NAME.json</c> and <c>NAME.md</c> into <paramref name="directory"/>; returns both paths.</summary>
    public static (string Json, string Markdown) Write(string directory, string name, MoveBenchmarkResult result, string? notes = null)
    {
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, name + ".json");
        var markdown = Path.Combine(directory, name + ".md");
        File.WriteAllText(json, ToJson(result) + "\n");
        File.WriteAllText(markdown, ToMarkdown(result, notes));
        return (json, markdown);
    }

    private static void Row(StringBuilder text, string figure, string value) => text.AppendLine(CultureInfo.InvariantCulture, $"| {figure} | {value} |");
}
