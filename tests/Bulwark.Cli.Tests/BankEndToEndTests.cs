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
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The whole bank as <c>bulwark run</c> builds it: every service in one process, talking gRPC
/// through <c>bulwark:///</c>, on SQLite in a temporary directory, with the app API on a free port.
/// </summary>
public sealed class BankEndToEndTests : IDisposable
{
    private const int Customers = 12;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bulwark-e2e-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Run_SeedWorkloadAppApiRestart_MoneyConservedAndDataKept()
    {
        var paths = new BankPaths(_directory);
        var cancellation = Timeout();
        DemoPopulation population;
        long demoBalanceBeforeRestart;

        await using (var app = await StartAsync(paths, cancellation))
        {
            population = await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
                .SeedAsync(Customers, seed: 7, cancellation);
            population.Save(paths.DemoPopulation);
            Assert.Equal(Customers, population.Customers.Count);

            var workload = new BankWorkload(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<FeedClient>(), app.Services.GetRequiredService<LedgerClient>(), population, seed: 7);
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                stop.CancelAfter(TimeSpan.FromSeconds(3));
                await workload.RunAsync(ratePerSecond: 100, stop.Token);
            }
            Assert.Equal(0, workload.Recorder.Errors);
            Assert.Equal(0, workload.Recorder.Shed);
            Assert.True(workload.Recorder.Ok > 100, $"only {workload.Recorder.Ok} operations succeeded in 3 s at 100/s");

            using var http = AppClient(app);
            await LoginAsync(http, DemoSeeder.DemoEmail, DemoSeeder.DemoPassword, cancellation);
            using var accounts = await GetJsonAsync(http, "/api/accounts", cancellation);
            var current = accounts.RootElement.GetProperty("accounts")[0];
            Assert.Equal(population.Customers[0].AccountId, current.GetProperty("accountId").GetString());
            demoBalanceBeforeRestart = current.GetProperty("balance").GetProperty("settled").GetInt64();
            Assert.True(accounts.RootElement.GetProperty("pots").GetArrayLength() >= 1);

            using var feed = await GetJsonAsync(http, $"/api/accounts/{current.GetProperty("accountId").GetString()}/feed?limit=100", cancellation);
            var items = feed.RootElement.GetProperty("items").EnumerateArray().ToList();
            Assert.Contains(items, item => item.GetProperty("category").GetString() == "income");
            Assert.Contains(items, item => item.TryGetProperty("merchantName", out _));

            // Someone else's account is invisible, not forbidden: its existence is not leaked.
            var other = population.Customers[^1].AccountId;
            using var foreign = await http.GetAsync(new Uri($"/api/accounts/{other}/balance", UriKind.Relative), cancellation);
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
            Assert.Equal("application/problem+json", foreign.Content.Headers.ContentType?.MediaType);

            await app.StopAsync(cancellation);
        }

        var check = BankLedger.Check(paths);
        Assert.True(check.Ok, string.Join("; ", check.Problems));
        // The demo's accounts, the bank's two, and the coherence checker's synthetic ones (a funding and a probe account per partition it checked).
        Assert.Equal((Customers * 2) + 2 + SyntheticAccounts(paths), check.AccountCount);
        Assert.True(check.TransferCount > Customers * 2);

        // A restart finds the same bank: the population file, the login and the balance.
        Assert.NotNull(DemoPopulation.TryLoad(paths.DemoPopulation));
        await using (var app = await StartAsync(paths, cancellation))
        {
            using var http = AppClient(app);
            await LoginAsync(http, DemoSeeder.DemoEmail, DemoSeeder.DemoPassword, cancellation);
            using var accounts = await GetJsonAsync(http, "/api/accounts", cancellation);
            var current = accounts.RootElement.GetProperty("accounts")[0];
            Assert.Equal(demoBalanceBeforeRestart, current.GetProperty("balance").GetProperty("settled").GetInt64());
            await app.StopAsync(cancellation);
        }
    }

    [Fact]
    public async Task LedgerCheck_NoLedgerInDirectory_ExitsTwo()
    {
        var exit = await BulwarkCommandLine.Create().Parse(["ledger", "check", "--data", _directory]).InvokeAsync(cancellationToken: Timeout());

        Assert.Equal(2, exit);
    }

    [Theory]
    [InlineData("not a database at all, just some text that is long enough to be a header")]
    [InlineData("")]
    public async Task LedgerCheck_FileIsNotALedger_ExitsTwo(string content)
    {
        Directory.CreateDirectory(_directory);
        await File.WriteAllTextAsync(Path.Combine(_directory, "ledger.db"), content);

        var exit = await BulwarkCommandLine.Create().Parse(["ledger", "check", "--data", _directory]).InvokeAsync(cancellationToken: Timeout());

        Assert.Equal(2, exit);
    }

    [Fact]
    public async Task LedgerCheck_HealthyLedger_ExitsZeroAndCorruptedLedger_ExitsOne()
    {
        var paths = new BankPaths(_directory);
        var cancellation = Timeout();
        await using (var app = await StartAsync(paths, cancellation))
        {
            await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), TextWriter.Null)
                .SeedAsync(3, seed: 1, cancellation);
            await app.StopAsync(cancellation);
        }

        Assert.Equal(0, await BulwarkCommandLine.Create().Parse(["ledger", "check", "--data", _directory]).InvokeAsync(cancellationToken: cancellation));

        // Money created from nothing: one balance changed behind the ledger's back.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={paths.Ledger};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = (SELECT max(id) FROM accounts)";
            Assert.Equal(1, command.ExecuteNonQuery());
        }
        var report = BankLedger.Check(paths);
        Assert.False(report.Ok);
        Assert.StartsWith("ledger NOT ok:", LedgerCommand.Describe(report), StringComparison.Ordinal);
        Assert.Equal(1, await BulwarkCommandLine.Create().Parse(["ledger", "check", "--data", _directory]).InvokeAsync(cancellationToken: cancellation));
    }

    [Theory]
    [InlineData("run", "--rate", "0")]
    [InlineData("run", "--port", "70000")]
    [InlineData("run", "--port", "eighty")]
    [InlineData("run", "--port", "-1")]
    [InlineData("run", "--for", "soon")]
    [InlineData("run", "--customers", "-5")]
    [InlineData("bench", "ledger", "--store", "mysql")]
    [InlineData("bench", "ledger", "--batch", "100000")]
    [InlineData("ledger", "verify")]
    public void Parse_BadArguments_ReportErrors(params string[] args)
    {
        var result = BulwarkCommandLine.Create().Parse(args);

        Assert.NotEmpty(result.Errors);
    }

    /// <summary>A bound on each test, so a hang fails the test instead of the whole run.</summary>
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

    private static async Task LoginAsync(HttpClient http, string email, string password, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(new Uri("/api/login", UriKind.Relative), new { email, password }, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.RootElement.GetProperty("token").GetString());
    }

    private static async Task<JsonDocument> GetJsonAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text);
    }

    private static long SyntheticAccounts(BankPaths paths)
    {
        long count = 0;
        foreach (var source in BankLedger.Sources(paths, null))
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={source.SqlitePath};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT count(*) FROM accounts WHERE code IN ({Bulwark.Coherence.Synthetic.SyntheticAccounts.ProbeCode}, {Bulwark.Coherence.Synthetic.SyntheticAccounts.FundingCode})";
            count += (long)command.ExecuteScalar()!;
        }
        return count;
    }
}
