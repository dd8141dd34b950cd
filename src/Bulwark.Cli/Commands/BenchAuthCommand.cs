using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using Bulwark.CardNetwork;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Hosting;
using Bulwark.Cli.Workload;
using Bulwark.Ledger;
using Bulwark.Ledger.Protos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark bench auth</c>: end-to-end card authorisation latency. A temporary bank runs in
/// this process exactly as <c>bulwark run</c> hosts it; the scheme simulator sends authorisations
/// open loop over loopback TCP to its card link, one run per rate, and each authorisation's
/// latency runs from its scheduled send time to the answer (no coordinated omission).
/// </summary>
internal static class BenchAuthCommand
{
    public const int CustomersDefault = 200;
    public const double P99TargetMilliseconds = 10;
    public const int RatesMax = 20;

    /// <summary>Every benchmark customer gets this much more (GBP 1,000,000) so holds never run out of funds.</summary>
    public const long TopUpMinor = 100_000_000;

    /// <summary>Top-up transfers per ledger call.</summary>
    public const int TopUpBatchMax = 1_000;

    private static readonly TimeSpan DurationDefault = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan WarmupDefault = TimeSpan.FromSeconds(2);

    public static Command Create()
    {
        var rate = new Option<IReadOnlyList<double>>("--rate")
        {
            Description = "Authorisations per second, open loop; several comma-separated rates run one after the other, e.g. 500,1000,2000,3000.",
            Required = true,
            CustomParser = ParseRates,
        };
        var duration = CommonOptions.Duration("--duration", "Measured time per rate, e.g. 10s. Default: 10s.");
        var warmup = CommonOptions.Duration("--warmup", "Unmeasured traffic before each rate's measured time, e.g. 2s. Default: 2s.");
        var customers = CommonOptions.PositiveInt("--customers", "Demo customers (and cards) seeded into the temporary bank.", CustomersDefault, 100_000);
        var seed = new Option<int>("--seed") { Description = "Seed for the demo data and the traffic.", DefaultValueFactory = _ => 42 };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write the results as JSON and markdown into this directory (e.g. bench/results)." };
        var name = new Option<string?>("--name") { Description = "File name (without extension) for --out. Default: auth-YYYY-MM-DD." };
        var command = new Command("auth", "Card authorisation latency end to end: scheme simulator -> ISO 8583 over TCP -> card processor -> ledger hold -> answer, in the one-process bank.")
        {
            rate, duration, warmup, customers, seed, output, name,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Settings(
                parse.GetValue(rate)!,
                parse.GetValue(duration) ?? DurationDefault,
                parse.GetValue(warmup) ?? WarmupDefault,
                parse.GetValue(customers),
                parse.GetValue(seed));
            var benchmark = await RunAsync(settings, "bulwark " + string.Join(' ', parse.Tokens.Select(t => t.Value)), Console.Out, cancellationToken);
            if (benchmark is null)
            {
                return 2;
            }
            Console.WriteLine();
            Console.Write(benchmark.ToMarkdown());
            if (parse.GetValue(output) is { } directory)
            {
                var fileName = parse.GetValue(name) ?? string.Create(CultureInfo.InvariantCulture, $"auth-{benchmark.StartedAt:yyyy-MM-dd}");
                var (json, markdown) = benchmark.Write(directory.FullName, fileName);
                Console.WriteLine($"wrote {json} and {markdown}");
            }
            return 0;
        });
        return command;
    }

    internal sealed record Settings(IReadOnlyList<double> Rates, TimeSpan Duration, TimeSpan Warmup, int Customers, int Seed);

    internal static IReadOnlyList<double> ParseRates(ArgumentResult result)
    {
        var text = string.Join(',', result.Tokens.Select(token => token.Value));
        var rates = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || !(value > 0) || value > CardNetworkLimits.RatePerSecondMax)
            {
                result.AddError($"--rate: '{part}' is not a rate: use authorisations per second above 0 and at most {CardNetworkLimits.RatePerSecondMax:N0}, several separated by commas (e.g. 500,1000,2000).");
                return [];
            }
            rates.Add(value);
        }
        if (rates.Count > RatesMax)
        {
            result.AddError($"--rate: at most {RatesMax} rates in one run.");
            return [];
        }
        return rates;
    }

    internal static async Task<AuthorizationBenchmark?> RunAsync(Settings settings, string commandLine, TextWriter output, CancellationToken cancellationToken)
    {
        var paths = new BankPaths(Path.Combine(Path.GetTempPath(), "bulwark-bench-auth-" + Guid.NewGuid().ToString("n")));
        try
        {
            return await RunInBankAsync(settings, paths, commandLine, output, cancellationToken);
        }
        finally
        {
            if (Directory.Exists(paths.DataDirectory))
            {
                Directory.Delete(paths.DataDirectory, recursive: true);
            }
        }
    }

    private static async Task<AuthorizationBenchmark?> RunInBankAsync(Settings settings, BankPaths paths, string commandLine, TextWriter output, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var pressureBefore = CpuPressure();
        var rows = new List<AuthorizationBenchmarkRow>();
        await using (var app = BankHost.Build(paths, new IPEndPoint(IPAddress.Loopback, 0), LogLevel.Critical))
        {
            await app.StartAsync(cancellationToken);
            var cardLink = await app.Services.GetRequiredService<Bulwark.Cards.CardLink>().GetEndpointAsync();
            await output.WriteLineAsync($"Temporary bank in {paths.DataDirectory}, card link on {cardLink}; seeding {settings.Customers:N0} customers...");
            var ledger = app.Services.GetRequiredService<LedgerClient>();
            var population = await new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), ledger, TextWriter.Null)
                .SeedAsync(settings.Customers, settings.Seed, cancellationToken);
            await TopUpAsync(ledger, population, cancellationToken);
            var cards = CardTraffic.Cards(population);
            for (var index = 0; index < settings.Rates.Count; index++)
            {
                var rate = settings.Rates[index];
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{rate:N0} authorisations/s: {settings.Warmup.TotalSeconds:0.#} s warm-up, {settings.Duration.TotalSeconds:0.#} s measured"));
                var simulator = new SchemeSimulator(new SchemeSimulatorOptions
                {
                    IssuerEndPoint = cardLink,
                    Cards = cards,
                    RatePerSecond = rate,
                    Duration = settings.Duration,
                    Warmup = settings.Warmup,
                    Seed = settings.Seed + index,
                    KeepApprovalsForClearing = false,
                });
                var result = await simulator.RunAsync(progress => output.WriteLine(Progress(progress)), cancellationToken);
                var row = AuthorizationBenchmarkRow.From(result);
                rows.Add(row);
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"  => p50 {row.P50Milliseconds:0.00} ms, p99 {row.P99Milliseconds:0.00} ms, p99.9 {row.P999Milliseconds:0.00} ms, max {row.MaxMilliseconds:0.00} ms; {row.Approved:N0} approved, {row.Declined:N0} declined, {row.StandIns:N0} stand-ins, {row.TimedOut:N0} timeouts"));
            }
            await app.StopAsync(CancellationToken.None);
        }
        var check = BankLedger.Check(paths);
        await output.WriteLineAsync(LedgerCommand.Describe(check));
        var setup = string.Create(CultureInfo.InvariantCulture,
            $"One-process bank as `bulwark run` hosts it (ledger, accounts, feed, edge and card processor in one process, each reached through its gRPC contract; SQLite with durable commits on a temporary directory), {settings.Customers:N0} customers with one card each. The scheme simulator runs in the same process and sends 0100s open loop over loopback TCP to the card link; latency is from each authorisation's scheduled send time to its 0110 (HdrHistogram, no coordinated omission). Each rate: {settings.Warmup.TotalSeconds:0.#} s warm-up, then {settings.Duration.TotalSeconds:0.#} s measured. Ledger check after the runs: {(check.Ok ? "ok" : "NOT ok")}. CPU pressure (Linux PSI: share of the last 60 s in which some runnable task waited for a CPU, i.e. the machine was busy with other work too) before / after: {pressureBefore} / {CpuPressure()}.");
        return new AuthorizationBenchmark(startedAt, commandLine, AuthorizationBenchmark.DescribeMachine(), setup, rows, P99TargetMilliseconds);
    }

    /// <summary>Funds every benchmark account generously, so a run measures holds, not declines for insufficient funds.</summary>
    internal static async Task TopUpAsync(LedgerClient ledger, DemoPopulation population, CancellationToken cancellationToken)
    {
        var request = new SubmitTransfersRequest { IdNamespace = IdNamespace.Bank };
        for (var index = 0; index < population.Customers.Count; index++)
        {
            request.Transfers.Add(new Transfer
            {
                Id = LedgerIds.Deterministic(population.Seed, index, 9_999).ToProto(),
                DebitAccountId = DemoSeeder.BankFundingAccountId.ToProto(),
                CreditAccountId = LedgerIds.ProtoFromHex(population.Customers[index].LedgerAccountId),
                Amount = TopUpMinor,
                Currency = DemoSeeder.Currency,
                Code = 1,
                Metadata = { ["description"] = "Benchmark top-up", ["category"] = "income" },
            });
            if (request.Transfers.Count == TopUpBatchMax || index == population.Customers.Count - 1)
            {
                var response = await ledger.SubmitTransfersAsync(request, cancellationToken: cancellationToken);
                if (response.Results.FirstOrDefault(result => result.Status != TransferStatus.Ok) is { } refused)
                {
                    throw new InvalidOperationException($"The ledger refused a benchmark top-up: {refused.Status}.");
                }
                request = new SubmitTransfersRequest { IdNamespace = IdNamespace.Bank };
            }
        }
    }

    /// <summary>The <c>some avg60</c> figure of /proc/pressure/cpu, e.g. "12%", or "unknown".</summary>
    private static string CpuPressure()
    {
        try
        {
            var line = File.Exists("/proc/pressure/cpu") ? File.ReadLines("/proc/pressure/cpu").FirstOrDefault() : null;
            var field = line?.Split(' ').FirstOrDefault(part => part.StartsWith("avg60=", StringComparison.Ordinal));
            return field is null ? "unknown" : field["avg60=".Length..] + "%";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string Progress(SchemeProgress progress) => string.Create(CultureInfo.InvariantCulture,
        $"  {progress.Elapsed.TotalSeconds,4:0}s  scheduled {progress.Scheduled,8:N0}  p50 {progress.Interval.P50Milliseconds,6:0.00} ms  p99 {progress.Interval.P99Milliseconds,7:0.00} ms  max {progress.Interval.MaxMilliseconds,7:0.00} ms  in flight {progress.InFlight,5}  approved {progress.Approved:N0}  declined {progress.Declined:N0}  stand-in {progress.StandIn:N0}  timeouts {progress.TimedOut:N0}");
}
