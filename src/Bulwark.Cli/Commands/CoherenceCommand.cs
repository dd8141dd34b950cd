using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bulwark.Cli.Hosting;
using Bulwark.Coherence.Checking;
using Bulwark.Lab.Cluster;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark coherence status</c>, and how the checker's results read in the CLI's output
/// (docs/internals/coherence.md). The status is read from each checker's own <c>/metrics</c>
/// (the counters an operator's Prometheus scrapes), so it is what the alerts see.
/// </summary>
internal static partial class CoherenceCommand
{
    /// <summary>How long one checker's /metrics may take to answer: a local scrape takes milliseconds.</summary>
    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Checker processes asked at most (a cluster runs one by default).</summary>
    private const int CheckersMax = 16;

    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "Data directory of a running bulwark run bank (found through DATA/bank.json). Default: ./.bulwark, unless --state is given." };
        var state = new Option<string?>("--state") { Description = "State directory of a running bulwark cluster up cluster: every coherence instance is asked." };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table." };
        var status = new Command("status", "Show the coherence checker's results by cell and check (ok, missing, error, timeout), read from its /metrics. Exit 1 when a read missed an acknowledged write, 2 when no checker answers.")
        {
            data, state, json,
        };
        status.SetAction(async (parse, cancellationToken) =>
            await StatusAsync(parse.GetValue(data), parse.GetValue(state), parse.GetValue(json), Console.Out, Console.Error, cancellationToken));
        var command = new Command("coherence", "The coherence checker: synthetic writes and reads in every ledger cell (docs/internals/coherence.md).");
        command.Subcommands.Add(status);
        return command;
    }

    /// <summary>
    /// One line: checks passed and failed, reads that missed an acknowledged write, rounds, and
    /// the failing (cell, check) pairs as their last outcome says.
    /// </summary>
    public static string Describe(CoherenceStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var failing = status.Last().Where(outcome => !outcome.Passed).Select(outcome => $"{outcome.Cell}/{outcome.Check} {outcome.Result}").ToList();
        var line = string.Create(CultureInfo.InvariantCulture,
            $"Coherence: {status.Passed:N0} checks passed, {status.Failed:N0} failed ({status.Missing:N0} missing an acknowledged write) in {status.Rounds:N0} round(s)");
        return failing.Count == 0 ? line : $"{line}; failing now: {string.Join(", ", failing)}";
    }

    /// <summary>One checker's counters: (cell, check, result) -> total, and its rounds.</summary>
    internal sealed record CheckerCounts(string Checker, string Address, IReadOnlyDictionary<(string Cell, string Check, string Result), long> Checks, long Rounds, string? Error);

    private static async Task<int> StatusAsync(string? data, string? state, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var (checkers, problem) = Checkers(data, state);
        if (problem is not null)
        {
            await error.WriteLineAsync($"bulwark coherence status: {problem}");
            return 2;
        }
        using var http = new HttpClient { Timeout = ScrapeTimeout, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var counts = new List<CheckerCounts>();
        foreach (var (name, address) in checkers.Take(CheckersMax))
        {
            counts.Add(await ScrapeAsync(http, name, address, cancellationToken));
        }
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(counts.Select(count => new
            {
                checker = count.Checker,
                address = count.Address,
                error = count.Error,
                rounds = count.Rounds,
                checks = count.Checks.Select(entry => new { cell = entry.Key.Cell, check = entry.Key.Check, result = entry.Key.Result, total = entry.Value }),
            })));
        }
        else
        {
            foreach (var count in counts)
            {
                await WriteTableAsync(count, output);
            }
        }
        if (counts.All(count => count.Error is not null))
        {
            await error.WriteLineAsync("bulwark coherence status: no coherence checker answered.");
            return 2;
        }
        return counts.Any(count => count.Checks.Any(entry => entry.Key.Result == CoherenceResult.Missing && entry.Value > 0)) ? 1 : 0;
    }

    /// <summary>The checkers to ask: the cluster's coherence instances (--state), or the one-process bank's internal port (--data, default ./.bulwark).</summary>
    private static (List<(string Name, string Address)> Checkers, string? Problem) Checkers(string? data, string? state)
    {
        if (data is not null && state is not null)
        {
            return ([], "give --data or --state, not both.");
        }
        if (state is not null)
        {
            var cluster = ClusterState.Load(state);
            if (cluster is null)
            {
                return ([], $"no cluster in {state}.");
            }
            var instances = cluster.Instances.Where(instance => instance.Service == BankModules.Coherence).Select(instance => (instance.Id, $"127.0.0.1:{instance.Port}")).ToList();
            return instances.Count == 0 ? ([], $"the cluster in {state} runs no coherence instance (bulwark scale coherence 1).") : (instances, null);
        }
        var directory = data ?? ".bulwark";
        BankEndpointFile? bank;
        try
        {
            bank = BankEndpointFile.Read(directory);
        }
        catch (Exception problem) when (problem is JsonException or IOException)
        {
            return ([], $"cannot read {BankEndpointFile.PathIn(directory)}: {problem.Message}");
        }
        return bank is null ? ([], $"no bank is running on {directory} (no {BankEndpointFile.FileName}).") : ([("bulwark run", bank.InternalGrpc)], null);
    }

    private static async Task<CheckerCounts> ScrapeAsync(HttpClient http, string name, string address, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await http.GetStringAsync(new Uri($"http://{address}/metrics"), cancellationToken);
        }
        catch (Exception problem) when (problem is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new CheckerCounts(name, address, new Dictionary<(string, string, string), long>(), 0, problem.Message);
        }
        var checks = new Dictionary<(string Cell, string Check, string Result), long>();
        long rounds = 0;
        foreach (var line in text.Split('\n'))
        {
            if (ChecksLine().Match(line) is { Success: true } check)
            {
                var labels = LabelPair().Matches(check.Groups["labels"].Value).ToDictionary(pair => pair.Groups[1].Value, pair => pair.Groups[2].Value, StringComparer.Ordinal);
                var key = (labels.GetValueOrDefault("cell", "?"), labels.GetValueOrDefault("check", "?"), labels.GetValueOrDefault("result", "?"));
                checks[key] = checks.GetValueOrDefault(key) + (long)double.Parse(check.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
            else if (RoundsLine().Match(line) is { Success: true } round)
            {
                rounds += (long)double.Parse(round.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }
        return new CheckerCounts(name, address, checks, rounds, null);
    }

    private static async Task WriteTableAsync(CheckerCounts counts, TextWriter output)
    {
        if (counts.Error is not null)
        {
            await output.WriteLineAsync($"{counts.Checker} ({counts.Address}): does not answer: {counts.Error}");
            return;
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{counts.Checker} ({counts.Address}): {counts.Rounds:N0} round(s)"));
        await output.WriteLineAsync($"  {"CELL",-8} {"CHECK",-14} {"OK",8} {"MISSING",8} {"ERROR",8} {"TIMEOUT",8}");
        foreach (var (cell, check) in counts.Checks.Keys.Select(key => (key.Cell, key.Check)).Distinct().Order())
        {
            long Of(string result) => counts.Checks.GetValueOrDefault((cell, check, result));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {cell,-8} {check,-14} {Of(CoherenceResult.Ok),8:N0} {Of(CoherenceResult.Missing),8:N0} {Of(CoherenceResult.Error),8:N0} {Of(CoherenceResult.Timeout),8:N0}"));
        }
    }

    [GeneratedRegex(@"^bulwark_coherence_checks_total\{(?<labels>[^}]*)\} (?<value>[0-9.eE+]+)")]
    private static partial Regex ChecksLine();

    [GeneratedRegex(@"^bulwark_coherence_rounds_total(\{[^}]*\})? (?<value>[0-9.eE+]+)")]
    private static partial Regex RoundsLine();

    [GeneratedRegex("([a-z_]+)=\"([^\"]*)\"")]
    private static partial Regex LabelPair();
}
