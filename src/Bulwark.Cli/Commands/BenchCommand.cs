using System.CommandLine;
using System.Globalization;
using Bulwark.Bench;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark bench ...</c>: benchmarks whose results go under bench/results/.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks. Results print as a table; --out DIR also writes NAME.json and NAME.md there (e.g. bench/results).");
        bench.Subcommands.Add(Ledger());
        bench.Subcommands.Add(BenchDiscoveryCommand.Create());
        bench.Subcommands.Add(BenchAuthCommand.Create());
        return bench;
    }

    private static Command Ledger()
    {
        var store = new Option<string>("--store")
        {
            Description = "Ledger store to measure: sqlite, postgres (a temporary durable server started for the run) or postgres://user@host:port/db (a fresh database is created there and dropped after).",
            DefaultValueFactory = _ => "sqlite",
        };
        store.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>() ?? "";
            if (value is "sqlite" or "postgres")
            {
                return;
            }
            try
            {
                Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(value);
            }
            catch (FormatException error)
            {
                result.AddError($"--store: {error.Message} (or sqlite, or postgres for a temporary server)");
            }
        });
        var comparePgbench = new Option<bool>("--compare-pgbench") { Description = "With a PostgreSQL store: also run pgbench -b tpcb-like on the same server with the same clients and duration, and print the ratio." };
        var defaults = new LedgerBenchmarkOptions();
        var clients = CommonOptions.PositiveInt("--clients", "Concurrent clients, each with one call in flight.", defaults.Clients, 1_024);
        var batch = CommonOptions.PositiveInt("--batch", "Transfers per call (1 = one transfer per call).", defaults.BatchSize, Bulwark.Ledger.LedgerLimits.SubmitTransfersMax);
        var accounts = CommonOptions.PositiveInt("--accounts", "Accounts the transfers move money between (at least 2).", defaults.Accounts, 10_000_000);
        accounts.Validators.Add(result =>
        {
            // A command-level validator sees 0 for an option left at its default; checked on the option
            // itself, on the token (reading the value of a token that is not a number would throw).
            if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count) && count == 1)
            {
                result.AddError("--accounts must be at least 2: a transfer moves money between two accounts.");
            }
        });
        var duration = CommonOptions.Duration("--duration", "Measured time per run, e.g. 10s.");
        var warmup = CommonOptions.Duration("--warmup", "Unmeasured load before each run, e.g. 1s.");
        var timeOrdered = new Option<bool>("--time-ordered-ids") { Description = "Use ids that grow with time (ULID-like) instead of random ones." };
        var seed = new Option<int>("--seed") { Description = "Seed for ids, accounts and amounts.", DefaultValueFactory = _ => defaults.Seed };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Directory for the benchmark's own new database file (default: a temporary directory, deleted afterwards)." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write the results as JSON and markdown into this directory." };
        var name = new Option<string?>("--name") { Description = "File name (without extension) for --out. Default: ledger-STORE-YYYY-MM-DD." };
        var command = new Command("ledger", "Durable ledger transfers per second and call latency, straight to the ledger engine.")
        {
            store, comparePgbench, clients, batch, accounts, duration, warmup, timeOrdered, seed, data, output, name,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(comparePgbench) && result.GetValue(store) == "sqlite")
            {
                result.AddError("--compare-pgbench needs --store postgres or --store postgres://...");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = defaults with
            {
                Clients = parse.GetValue(clients),
                BatchSize = parse.GetValue(batch),
                Accounts = parse.GetValue(accounts),
                Duration = parse.GetValue(duration) ?? defaults.Duration,
                Warmup = parse.GetValue(warmup) ?? defaults.Warmup,
                TimeOrderedIds = parse.GetValue(timeOrdered),
                Seed = parse.GetValue(seed),
                DataDirectory = parse.GetValue(data)?.FullName,
                Store = parse.GetValue(store) == "sqlite" ? "sqlite" : "postgres",
                PostgresConnectionString = parse.GetValue(store) is { } url && Bulwark.Storage.Postgres.PostgresConnections.IsPostgresUrl(url)
                    ? Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url)
                    : null,
                ComparePgbench = parse.GetValue(comparePgbench),
            };
            var result = await LedgerBenchmark.RunAsync(options, Console.Out, cancellationToken);
            var results = new[] { result };
            Console.WriteLine();
            Console.Write(LedgerBenchmarkReport.ToMarkdown(results));
            if (parse.GetValue(output) is { } directory)
            {
                var fileName = parse.GetValue(name) ?? string.Create(CultureInfo.InvariantCulture, $"ledger-{result.Store}-{result.StartedAt:yyyy-MM-dd}");
                var notes = "Command: `bulwark " + string.Join(' ', parse.Tokens.Select(t => t.Value)) + "`";
                var (json, markdown) = LedgerBenchmarkReport.Write(directory.FullName, fileName, results, notes);
                Console.WriteLine($"wrote {json} and {markdown}");
            }
            return 0;
        });
        return command;
    }
}
