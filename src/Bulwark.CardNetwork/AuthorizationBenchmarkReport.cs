using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Bulwark.CardNetwork;

/// <summary>One row of an authorisation benchmark: a simulator run at one rate.</summary>
/// <param name="TargetRatePerSecond">Scheduled authorisations per second.</param>
/// <param name="AchievedRatePerSecond">Authorisations scheduled per second of the measured time.</param>
/// <param name="DurationSeconds">Measured seconds.</param>
/// <param name="Scheduled">Authorisations in the measured time.</param>
/// <param name="Approved">Issuer approvals.</param>
/// <param name="Declined">Issuer declines.</param>
/// <param name="StandIns">Stand-in decisions (approve and decline).</param>
/// <param name="TimedOut">No issuer answer within the deadline.</param>
/// <param name="NotSent">Link down or too many in flight.</param>
/// <param name="P50Milliseconds">Scheduled send to answer, median.</param>
/// <param name="P99Milliseconds">99th percentile.</param>
/// <param name="P999Milliseconds">99.9th percentile.</param>
/// <param name="MaxMilliseconds">Largest.</param>
/// <param name="SendLagP99Milliseconds">How late the simulator itself sent, 99th percentile (part of the latency).</param>
/// <param name="ResponseCodes">Issuer answers per field 39 value.</param>
public sealed record AuthorizationBenchmarkRow(
    double TargetRatePerSecond,
    double AchievedRatePerSecond,
    double DurationSeconds,
    long Scheduled,
    long Approved,
    long Declined,
    long StandIns,
    long TimedOut,
    long NotSent,
    double P50Milliseconds,
    double P99Milliseconds,
    double P999Milliseconds,
    double MaxMilliseconds,
    double SendLagP99Milliseconds,
    IReadOnlyDictionary<string, long> ResponseCodes)
{
    /// <summary>The row for a simulator result.</summary>
    public static AuthorizationBenchmarkRow From(SchemeSimulatorResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new(
            result.TargetRatePerSecond,
            Math.Round(result.AchievedRatePerSecond, 1),
            Math.Round(result.Elapsed.TotalSeconds, 2),
            result.Scheduled,
            result.Approved,
            result.Declined,
            result.StandInApproved + result.StandInDeclined,
            result.TimedOut,
            result.NotSent,
            result.Latency.P50Milliseconds,
            result.Latency.P99Milliseconds,
            result.Latency.P999Milliseconds,
            result.Latency.MaxMilliseconds,
            result.SendLag.P99Milliseconds,
            result.ResponseCodes);
    }
}

/// <summary>An authorisation benchmark: where it ran, how, and one row per rate.</summary>
/// <param name="StartedAt">When the first run started.</param>
/// <param name="Command">The command line that produced it.</param>
/// <param name="Machine">Cores, OS and runtime.</param>
/// <param name="Setup">What was measured, in a sentence (e.g. one-process bank, loopback TCP).</param>
/// <param name="Rows">One per rate, in run order.</param>
/// <param name="P99TargetMilliseconds">The p99 the benchmark is held to.</param>
public sealed record AuthorizationBenchmark(DateTimeOffset StartedAt, string Command, string Machine, string Setup, IReadOnlyList<AuthorizationBenchmarkRow> Rows, double P99TargetMilliseconds = 10)
{
    /// <summary>The highest target rate whose p99 met <see cref="P99TargetMilliseconds"/> with nothing timed out or stood in; null if none.</summary>
    public double? HighestRateWithinTarget => Rows
        .Where(row => row.P99Milliseconds < P99TargetMilliseconds && row.TimedOut == 0 && row.StandIns == 0 && row.NotSent == 0)
        .Select(row => (double?)row.TargetRatePerSecond)
        .Max();

    /// <summary>This machine, for <see cref="Machine"/>.</summary>
    public static string DescribeMachine() => string.Create(CultureInfo.InvariantCulture,
        $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}, load average {LoadAverage()}");

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>JSON for tools.</summary>
    public string ToJson() => JsonSerializer.Serialize(new { StartedAt, Command, Machine, Setup, P99TargetMilliseconds, HighestRateWithinTarget, Rows }, Json);

    /// <summary>Markdown for people.</summary>
    public string ToMarkdown(string? notes = null)
    {
        var text = new StringBuilder();
        text.AppendLine("# Card authorisation benchmark");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run {StartedAt:yyyy-MM-dd HH:mm} UTC on {Machine}.");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Command: `{Command}`");
        text.AppendLine();
        text.AppendLine(Setup);
        text.AppendLine();
        text.AppendLine("| target auth/s | achieved/s | seconds | authorisations | approved | declined | stand-ins | timeouts | p50 ms | p99 ms | p99.9 ms | max ms | simulator send lag p99 ms |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.TargetRatePerSecond:N0} | {r.AchievedRatePerSecond:N0} | {r.DurationSeconds:N1} | {r.Scheduled:N0} | {r.Approved:N0} | {r.Declined:N0} | {r.StandIns:N0} | {r.TimedOut:N0} | {r.P50Milliseconds:N2} | {r.P99Milliseconds:N2} | {r.P999Milliseconds:N2} | {r.MaxMilliseconds:N2} | {r.SendLagP99Milliseconds:N2} |");
        }

        text.AppendLine();
        text.AppendLine(HighestRateWithinTarget is { } best
            ? string.Create(CultureInfo.InvariantCulture, $"Highest rate with p99 under {P99TargetMilliseconds:N0} ms (and no timeouts or stand-ins): **{best:N0} authorisations/s**.")
            : string.Create(CultureInfo.InvariantCulture, $"No rate met p99 under {P99TargetMilliseconds:N0} ms without timeouts or stand-ins."));
        if (!string.IsNullOrWhiteSpace(notes))
        {
            text.AppendLine().AppendLine(notes.Trim());
        }

        return text.ToString();
    }

    /// <summary>Writes <c>NAME.json</c> and <c>NAME.md</c> into <paramref name="directory"/>; returns both paths.</summary>
    public (string Json, string Markdown) Write(string directory, string name, string? notes = null)
    {
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, name + ".json");
        var markdown = Path.Combine(directory, name + ".md");
        File.WriteAllText(json, ToJson() + "\n");
        File.WriteAllText(markdown, ToMarkdown(notes));
        return (json, markdown);
    }

    private static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
