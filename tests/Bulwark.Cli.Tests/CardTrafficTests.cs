using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Bulwark.Cli.Commands;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Hosting;
using Bulwark.Cli.Workload;
using Bulwark.Ledger;
using Bulwark.Platform.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using static Bulwark.Cli.Tests.TestPorts;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Tests;

/// <summary>
/// Card payments end to end in the one-process bank: the scheme simulator over real TCP to the
/// bank's card link, holds in the feed as pending with the merchant's name, then a clearing file
/// posted with <c>bulwark cards clear</c> and the same payments settled.
/// </summary>
public sealed class CardTrafficTests : IDisposable
{
    private const int SeededPendingHolds = 2;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-cards-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        // The bank's data directory and, beside it, the scheme simulator's (BankPaths.SchemeDirectory).
        foreach (var directory in new[] { _directory, _directory + "-scheme" })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task CardTraffic_ThenClearing_FeedShowsPendingThenSettledAndLedgerBalances()
    {
        var paths = new BankPaths(_directory);
        var cancellation = Timeout();
        string accountId;
        await using (var app = await StartAsync(paths, cancellation))
        {
            var population = await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
                .SeedAsync(2, seed: 3, cancellation);
            population.Save(paths.DemoPopulation);
            // Enough money that every presentment (tips included) posts: refusals are tested in Bulwark.Cards.Tests.
            await BenchAuthCommand.TopUpAsync(app.Services.GetRequiredService<LedgerClient>(), population, cancellation);
            var cardLink = await app.Services.GetRequiredService<Bulwark.Cards.CardLink>().GetEndpointAsync();
            var traffic = new CardTraffic(cardLink, population, ratePerSecond: 40, seed: 3, paths.SchemeClearing);
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                stop.CancelAfter(TimeSpan.FromSeconds(2));
                var result = await traffic.RunAsync(stop.Token);
                Assert.True(result.Approved > 0, $"no approvals: {result.Scheduled} scheduled, {result.Declined} declined, {result.TimedOut} timed out");
            }

            using var http = AppClient(app);
            await LoginAsync(http, cancellation);
            accountId = population.Customers[0].AccountId;
            var items = await FeedAsync(http, accountId, cancellation);
            var pendingCards = items.Where(item => item.GetProperty("state").GetString() == "pending" && item.TryGetProperty("merchantName", out var name) && name.GetString() is { Length: > 0 }).ToList();
            Assert.True(pendingCards.Count > SeededPendingHolds, $"{pendingCards.Count} pending card payments in the feed");
            await app.StopAsync(cancellation);
        }

        var file = Assert.Single(Directory.GetFiles(paths.SchemeClearing, "clearing-*.txt"));
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CardsCommand.ClearAsync(new FileInfo(file), paths, TimeSpan.FromDays(7), output, error, cancellation);
        Assert.True(exit == 0, output + "\n" + error);
        Assert.Contains("posted ", output.ToString(), StringComparison.Ordinal);
        Assert.True(BankLedger.Check(paths).Ok);

        await using (var app = await StartAsync(paths, cancellation))
        {
            using var http = AppClient(app);
            await LoginAsync(http, cancellation);
            var items = await FeedAsync(http, accountId, cancellation);
            var pending = items.Count(item => item.GetProperty("state").GetString() == "pending");
            Assert.Equal(SeededPendingHolds, pending);
            var settledCards = items.Where(item => item.GetProperty("state").GetString() == "settled" && item.TryGetProperty("merchantName", out _)).ToList();
            Assert.NotEmpty(settledCards);
            // Presented amounts differ from authorised ones (tips, conversion): the change shows.
            Assert.Contains(items, item =>
                (item.TryGetProperty("originalAmount", out var original) && original.ValueKind == JsonValueKind.Number)
                || item.GetProperty("description").GetString()!.EndsWith("(adjustment)", StringComparison.Ordinal));
            await app.StopAsync(cancellation);
        }
    }

    [Theory]
    [InlineData(0, "Card journal: every decision is in the ledger")]
    [InlineData(1, "Card journal: 1 decision waits for the ledger (the next start posts it)")]
    [InlineData(2, "Card journal: 2 decisions wait for the ledger (the next start posts them)")]
    [InlineData(1234, "Card journal: 1,234 decisions wait for the ledger (the next start posts them)")]
    public void DescribeJournal_Count_OneDecisionOrManyDecisions(long waiting, string expected) =>
        Assert.Equal(expected, CardTraffic.DescribeJournal(waiting));

    [Fact]
    public async Task Run_ForAFewSeconds_CardAuthorisationsApprovedAndLedgerOk()
    {
        var port = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var bank = StartProcess("run", "--data", _directory, "--port", port, "--customers", "5", "--rate", "20", "--card-rate", "50", "--for", "3s");
        using var exited = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        string output;
        try
        {
            output = await bank.StandardOutput.ReadToEndAsync(exited.Token);
            await bank.WaitForExitAsync(exited.Token);
        }
        finally
        {
            if (!bank.HasExited)
            {
                bank.Kill();
            }
        }

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(bank.ExitCode == 0, output + await bank.StandardError.ReadToEndAsync());
        Assert.Contains(lines, line => line.StartsWith("card link (ISO 8583) listening on 127.0.0.1:", StringComparison.Ordinal));
        var cards = Assert.Single(lines, line => line.StartsWith("Cards: ", StringComparison.Ordinal));
        var approved = System.Text.RegularExpressions.Regex.Match(cards, @"over ISO 8583: ([\d,]+) approved");
        Assert.True(approved.Success, cards);
        Assert.True(long.Parse(approved.Groups[1].Value, System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture) > 0, cards);
        // The scheme's stand-in and the bank's own are counted apart, and the journal's backlog is said.
        Assert.Matches(@"\d+ scheme stand-in, \d+ bank stand-in, \d+ timeouts", cards);
        Assert.Contains(lines, line => line.StartsWith("Card journal: ", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("Clearing file: ", StringComparison.Ordinal));
        // The demo's 12 accounts, and the coherence checker's synthetic ones once its first round has run.
        Assert.Matches(@"^ledger ok: \d+ accounts, \d+ transfers, sum 0; 2 cells, \d+ credit legs in flight between them$", Assert.Single(lines, line => line.StartsWith("ledger ", StringComparison.Ordinal)));
        Assert.Matches(@"^Coherence: [\d,]+ checks passed, [\d,]+ failed \(0 missing an acknowledged write\)", lines[^1]);
    }

    [Fact]
    public async Task RunThenClear_FullCardNumbers_NeverKeptInTheBankData_AndPostingAgainPostsNothing()
    {
        using var bank = StartProcess("run", "--data", _directory, "--port", "0", "--customers", "5", "--rate", "20", "--card-rate", "50", "--for", "3s");
        using var exited = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        string output;
        try
        {
            output = await bank.StandardOutput.ReadToEndAsync(exited.Token);
            await bank.WaitForExitAsync(exited.Token);
        }
        finally
        {
            if (!bank.HasExited)
            {
                bank.Kill();
            }
        }
        Assert.True(bank.ExitCode == 0, output);
        var paths = new BankPaths(_directory);
        var announced = Assert.Single(output.Split('\n'), line => line.StartsWith("Clearing file: ", StringComparison.Ordinal));
        var file = announced["Clearing file: ".Length..announced.IndexOf("   (", StringComparison.Ordinal)];
        // The simulator writes in its own directory beside the bank's data, not in it.
        Assert.Equal(paths.SchemeClearing, Path.GetDirectoryName(file));
        var pans = File.ReadLines(file).Where(line => line.StartsWith("P|", StringComparison.Ordinal)).Select(line => line.Split('|')[5]).Distinct().ToList();
        Assert.NotEmpty(pans);
        AssertNoCardNumber(_directory, pans);

        var (first, firstOutput) = await ClearWithOutputAsync(file, paths);
        Assert.True(first is 0 or 1, firstOutput);
        AssertNoCardNumber(_directory, pans);
        var kept = Path.Combine(paths.ClearingReceived, Path.GetFileName(file));
        Assert.Contains(File.ReadLines(kept), line => line.StartsWith("P|", StringComparison.Ordinal) && line.Split('|')[5].EndsWith(pans[0][^4..], StringComparison.Ordinal));

        // As an older bulwark run left it: the clear file inside the bank's data. Posting it again posts
        // nothing (every presentment a duplicate) and takes the clear file out of the bank's data.
        File.Copy(file, kept, overwrite: true);
        var (again, againOutput) = await ClearWithOutputAsync(kept, paths);
        Assert.True(again is 0 or 1, againOutput);
        var presentments = File.ReadLines(file).Count(line => line.StartsWith("P|", StringComparison.Ordinal));
        Assert.Contains($"posted 0: matched 0", againOutput, StringComparison.Ordinal);
        Assert.Contains($"duplicates {presentments:N0}", againOutput, StringComparison.Ordinal);
        Assert.Contains("moved ", againOutput, StringComparison.Ordinal);
        Assert.True(File.Exists(file));
        AssertNoCardNumber(_directory, pans);
        Assert.True(BankLedger.Check(paths).Ok);
    }

    private static async Task<(int Exit, string Output)> ClearWithOutputAsync(string file, BankPaths paths)
    {
        using var output = new StringWriter();
        var exit = await CardsCommand.ClearAsync(new FileInfo(file), paths, TimeSpan.FromDays(7), output, output, Timeout());
        return (exit, output.ToString());
    }

    /// <summary>No file under <paramref name="directory"/> (databases, their -wal files, logs, copies) holds any of the card numbers.</summary>
    private static void AssertNoCardNumber(string directory, IReadOnlyList<string> pans)
    {
        foreach (var path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (IOException) when (path.EndsWith(".lock", StringComparison.Ordinal))
            {
                continue;
            }
            foreach (var pan in pans)
            {
                Assert.True(bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(pan)) < 0, $"{path} holds the card number ...{pan[^4..]}");
            }
        }
    }

    [Fact]
    public async Task Clear_MissingFile_ExitsTwoNamingIt()
    {
        var (exit, error) = await ClearAsync(Path.Combine(_directory, "no-such-file.txt"), _directory);

        Assert.Equal(2, exit);
        Assert.Contains("no such file", error, StringComparison.Ordinal);
        Assert.Contains("no-such-file.txt", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clear_MalformedFile_ExitsTwoNamingTheLine()
    {
        Directory.CreateDirectory(_directory);
        var file = Path.Combine(_directory, "clearing-bad.txt");
        await File.WriteAllLinesAsync(file, ["H|BWCLR|1|BWS-20261201-01|2026-12-01|2026-12-02T02:00:00Z|826", "P|only|three", "T|0|0"]);

        var (exit, error) = await ClearAsync(file, _directory);

        Assert.Equal(2, exit);
        Assert.Contains("not a valid BWCLR clearing file", error, StringComparison.Ordinal);
        Assert.Contains("line 2", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clear_NoBankInDataDirectory_ExitsTwo()
    {
        Directory.CreateDirectory(_directory);
        var file = Path.Combine(_directory, "clearing-empty.txt");
        await File.WriteAllLinesAsync(file, ["H|BWCLR|1|BWS-20261201-01|2026-12-01|2026-12-02T02:00:00Z|826", "T|0|0"]);

        var (exit, error) = await ClearAsync(file, Path.Combine(_directory, "not-a-bank"));

        Assert.Equal(2, exit);
        Assert.Contains("no bank in", error, StringComparison.Ordinal);
        Assert.Contains("--data", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clear_BankRunningOnTheDirectory_ExitsTwoAndPostsNothing()
    {
        var paths = new BankPaths(_directory);
        Directory.CreateDirectory(_directory);
        foreach (var database in new[] { paths.Ledger, paths.Accounts, paths.CardsJournal })
        {
            await File.WriteAllTextAsync(database, "");
        }
        var file = Path.Combine(_directory, "clearing-empty.txt");
        await File.WriteAllLinesAsync(file, ["H|BWCLR|1|BWS-20261201-01|2026-12-01|2026-12-02T02:00:00Z|826", "T|0|0"]);
        using var running = BankLock.TryAcquire(_directory, out _);
        Assert.NotNull(running);

        var (exit, error) = await ClearAsync(file, _directory);

        Assert.Equal(2, exit);
        Assert.Contains("a bank is running on", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "--card-rate", "-1")]
    [InlineData("run", "--card-rate", "many")]
    [InlineData("run", "--card-link-port", "any")]
    [InlineData("run", "--card-link-port", "70000")]
    [InlineData("run", "--card-link-port", "-1")]
    [InlineData("cards", "clear")]
    [InlineData("cards", "clear", "file.txt", "--release-after-days", "0")]
    public void Parse_BadCardArguments_ReportErrors(params string[] args)
    {
        var result = BulwarkCommandLine.Create().Parse(args);

        Assert.NotEmpty(result.Errors);
    }

    [Theory]
    [InlineData("--rate", "run", "--rate", "abc")]
    [InlineData("--customers", "run", "--customers", "many")]
    [InlineData("--accounts", "bench", "ledger", "--accounts", "lots")]
    [InlineData("--clients", "bench", "ledger", "--clients", "1.5")]
    public void Parse_NumberOptionNotANumber_ReportsErrorInsteadOfThrowing(string option, params string[] args)
    {
        var result = BulwarkCommandLine.Create().Parse(args);

        Assert.Contains(result.Errors, error => error.Message.StartsWith(option + " must be between 1 and", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_CardRateZero_TurnsCardTrafficOff()
    {
        var result = BulwarkCommandLine.Create().Parse(["run", "--card-rate", "0"]);

        Assert.Empty(result.Errors);
    }

    private async Task<(int Exit, string Error)> ClearAsync(string file, string data)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CardsCommand.ClearAsync(new FileInfo(file), new BankPaths(data), TimeSpan.FromDays(7), output, error, Timeout());
        return (exit, error.ToString());
    }

    private static System.Diagnostics.Process StartProcess(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bulwark.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Operator commands act as the bank's demo staff member (OperatorStaff).
        foreach (var (name, value) in OperatorStaff.EnvironmentAsync(null, args).GetAwaiter().GetResult() ?? [])
        {
            start.Environment[name] = value;
        }
        return System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start bulwark");
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;

    private static async Task<WebApplication> StartAsync(BankPaths paths, CancellationToken cancellationToken)
    {
        var app = BankHost.Build(paths, new IPEndPoint(IPAddress.Loopback, 0));
        await app.StartAsync(cancellationToken);
        return app;
    }

    private static HttpClient AppClient(WebApplication app)
    {
        var endpoint = app.Services.GetRequiredService<InternalEndpointAccessor>().GetPublic()
            ?? throw new InvalidOperationException("The bank has no public endpoint.");
        return new HttpClient { BaseAddress = new Uri($"http://{endpoint}/") };
    }

    private static async Task LoginAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(new Uri("/api/login", UriKind.Relative), new { email = DemoSeeder.DemoEmail, password = DemoSeeder.DemoPassword }, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.RootElement.GetProperty("token").GetString());
    }

    private static async Task<List<JsonElement>> FeedAsync(HttpClient http, string accountId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri($"/api/accounts/{accountId}/feed?limit=100", UriKind.Relative), cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var feed = JsonDocument.Parse(text);
        return [.. feed.RootElement.GetProperty("items").EnumerateArray().Select(item => item.Clone())];
    }
}
