using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bulwark.Coherence;
using Bulwark.Coherence.Synthetic;
using static Bulwark.Cli.Tests.BulwarkProcess;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The coherence checker inside <c>bulwark run</c>, seen as an operator and a customer see the
/// bank: its checks on /metrics (app_read among them: the checker reads through the app API as
/// synthetic customers), its line in the summary, the ledger check, the customer views.
/// </summary>
public sealed partial class CoherenceProcessTests : IDisposable
{
    /// <summary>Scrapes of /metrics before the checks must have shown up: at one round a second, far more than needed.</summary>
    private const int ScrapesMax = 300;

    private const string SyntheticEmailDomain = "synthetic.bulwark.invalid";

    private static readonly string SyntheticPrefix = SyntheticAccounts.AccountIdHigh.ToString("x16", CultureInfo.InvariantCulture);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-coherence-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        foreach (var directory in new[] { _directory, _directory + "-scheme" })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Run_CoherenceChecker_PassesInEveryCell_OnMetricsAndInTheSummary_AndNoCustomerViewShowsItsAccounts()
    {
        using var bank = Start(new Dictionary<string, string> { [CoherenceOptions.IntervalVariable] = "1" },
            "run", "--data", _directory, "--port", "0", "--customers", "3", "--no-workload");
        var errors = bank.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        try
        {
            await ReadUntilAsync(bank, lines, line => line.StartsWith("Running at", StringComparison.Ordinal), errors);
            var running = Assert.Single(lines, line => RunningUrl().IsMatch(line));
            var port = int.Parse(RunningUrl().Match(running).Groups[1].Value, CultureInfo.InvariantCulture);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

            // Every check passed at least once in both cells (a round a second; the scrape is bounded).
            var metrics = await ScrapeUntilEveryCheckPassedAsync(http, ["a", "b"]);
            Assert.DoesNotContain(metrics, line => line.Contains("result=\"missing\"", StringComparison.Ordinal) && !line.EndsWith(" 0", StringComparison.Ordinal));

            // The operator's view of the same counters: a row per cell and check, nothing missing.
            var status = await RunAsync("coherence", "status", "--data", _directory);
            Assert.True(status.ExitCode == 0, status.Output + status.Error);
            Assert.Matches(@"^bulwark run \(127\.0\.0\.1:\d+\): [\d,]+ round\(s\)", status.Output);
            foreach (var cell in new[] { "a", "b" })
            {
                foreach (var check in Checking())
                {
                    Assert.Matches($@"\n  {cell} +{check} +[1-9][\d,]* +0 ", status.Output);
                }
            }
            var statusJson = await RunAsync("coherence", "status", "--data", _directory, "--json");
            Assert.True(statusJson.ExitCode == 0, statusJson.Error);
            using (var json = JsonDocument.Parse(statusJson.Output))
            {
                var checks = Assert.Single(json.RootElement.EnumerateArray()).GetProperty("checks").EnumerateArray().ToList();
                Assert.Contains(checks, check => check.GetProperty("cell").GetString() == "b" && check.GetProperty("check").GetString() == "feed_read"
                    && check.GetProperty("result").GetString() == "ok" && check.GetProperty("total").GetInt64() > 0);
            }

            // The customer's app: the demo customer sees their own account, and nothing of the checker's.
            await LoginAsync(http, "demo@bulwark.example", "bulwark-demo");
            var accounts = await http.GetStringAsync(new Uri("api/accounts", UriKind.Relative));
            Assert.DoesNotContain(SyntheticPrefix, accounts, StringComparison.OrdinalIgnoreCase);
            // The operator's customer list: the three demo customers, no synthetic one.
            var list = await RunAsync("customers", "list", "--json", "--data", _directory);
            Assert.True(list.ExitCode == 0, list.Error);
            using (var json = JsonDocument.Parse(list.Output))
            {
                Assert.Equal(3, json.RootElement.GetProperty("customers").GetArrayLength());
            }
            Assert.DoesNotContain(SyntheticPrefix, list.Output, StringComparison.OrdinalIgnoreCase);
            // The checker read through that same app API as synthetic customers: real records (at
            // least one per cell), in no list, and not found by the operator's show either.
            var synthetic = SyntheticCustomerEmails();
            Assert.True(synthetic.Count >= 2, $"synthetic customers: {synthetic.Count}");
            Assert.DoesNotContain(SyntheticEmailDomain, list.Output, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(SyntheticEmailDomain, accounts, StringComparison.OrdinalIgnoreCase);
            var show = await RunAsync("customers", "show", synthetic[0], "--data", _directory);
            Assert.True(show.ExitCode != 0, show.Output);
            Assert.DoesNotContain(SyntheticPrefix, show.Output, StringComparison.OrdinalIgnoreCase);
            // Nobody logs in as one without the checker's password (held in its memory only).
            using (var guess = await http.PostAsJsonAsync(new Uri("api/login", UriKind.Relative), new { email = synthetic[0], password = "bulwark-demo" }))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, guess.StatusCode);
            }

            using (var interrupt = Process.Start("kill", ["-INT", bank.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync();
            }
            await ReadUntilAsync(bank, lines, line => line.StartsWith("Coherence:", StringComparison.Ordinal), errors);
            using var exited = new CancellationTokenSource(Bound);
            await bank.WaitForExitAsync(exited.Token);
        }
        finally
        {
            if (!bank.HasExited)
            {
                bank.Kill();
            }
        }

        var output = string.Join('\n', lines);
        Assert.True(bank.ExitCode == 0, output + await errors);
        // The synthetic writes are inside the zero-sum invariant.
        Assert.Contains(lines, line => line.StartsWith("ledger ok: ", StringComparison.Ordinal) && line.Contains(", sum 0;", StringComparison.Ordinal));
        // Nothing acknowledged went missing. A check may time out on a loaded machine (a round a
        // second leaves 750 ms per cell): that is a failure, not a missing write, and not asserted on.
        Assert.Matches(@"^Coherence: [1-9][\d,]* checks passed, [\d,]+ failed \(0 missing an acknowledged write\) in [\d,]+ round\(s\)", lines[^1]);
    }

    [Fact]
    public async Task CoherenceStatus_NoBankRunning_ExitsTwoSayingSo()
    {
        Directory.CreateDirectory(_directory);

        var status = await RunAsync("coherence", "status", "--data", _directory);

        Assert.Equal(2, status.ExitCode);
        Assert.Contains($"bulwark coherence status: no bank is running on {_directory}", status.Error, StringComparison.Ordinal);
    }

    /// <summary>The emails of the synthetic customers in the bank's accounts store (read-only, beside the running bank).</summary>
    private List<string> SyntheticCustomerEmails()
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "accounts.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT email FROM customers WHERE synthetic = 1 ORDER BY email";
        using var reader = command.ExecuteReader();
        var emails = new List<string>();
        while (reader.Read())
        {
            emails.Add(reader.GetString(0));
        }
        return emails;
    }

    private static async Task<List<string>> ScrapeUntilEveryCheckPassedAsync(HttpClient http, IReadOnlyList<string> cells)
    {
        List<string> lines = [];
        for (var scrape = 0; scrape < ScrapesMax; scrape++)
        {
            lines = [.. (await http.GetStringAsync(new Uri("metrics", UriKind.Relative))).Split('\n').Where(line => line.StartsWith("bulwark_coherence_checks_total{", StringComparison.Ordinal))];
            // Every cell's checks, and the configuration service's (bank-wide, cell "config": its synthetic key written and read back through the process's configuration client).
            var wanted = cells.SelectMany(cell => Checking().Select(check => (cell, check)))
                .Concat(Bulwark.Coherence.Checking.CoherenceCheck.Configuration.Select(check => (Bulwark.Coherence.Checking.ConfigReadCheck.Service, check)));
            var passed = wanted.All(pair => lines.Any(line =>
                line.Contains($"cell=\"{pair.Item1}\"", StringComparison.Ordinal) && line.Contains($"check=\"{pair.Item2}\"", StringComparison.Ordinal)
                && line.Contains("result=\"ok\"", StringComparison.Ordinal) && !line.EndsWith(" 0", StringComparison.Ordinal)));
            if (passed)
            {
                return lines;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
        Assert.Fail($"the checks did not all pass in both cells after {ScrapesMax} scrapes:\n" + string.Join('\n', lines));
        return lines;
    }

    private static IEnumerable<string> Checking() => Bulwark.Coherence.Checking.CoherenceCheck.All;

    private static async Task LoginAsync(HttpClient http, string email, string password)
    {
        using var response = await http.PostAsJsonAsync(new Uri("api/login", UriKind.Relative), new { email, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.RootElement.GetProperty("token").GetString());
    }

    [GeneratedRegex(@"^Bulwark is running: http://127\.0\.0\.1:(\d+)/ ")]
    private static partial Regex RunningUrl();
}
