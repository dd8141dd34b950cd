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
        bench.Subcommands.Add(BenchMoveCommand.Create());
        bench.Subcommands.Add(BenchDiscoveryCommand.Create());
        bench.Subcommands.Add(BenchAuthCommand.Create());
        bench.Subcommands.Add(BenchReplayCommand.Create());
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
        var data = new Option<DirectoryInfo?>("--data") { Description = "Directory for the benchmark's own new database file; with --cells, a new directory per run inside it for the map and the cells' files (default: a temporary directory, deleted afterwards)." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write the results as JSON and markdown into this directory." };
        var name = new Option<string?>("--name") { Description = "File name (without extension) for --out. Default: ledger-STORE-YYYY-MM-DD, with --cells ledger-cells-STORE-YYYY-MM-DD." };
        var cells = new Option<IReadOnlyList<int>?>("--cells")
        {
            Description = $"Run N real cells (1 to {LedgerBenchmarkOptions.CellsMax}; each its own store and writer, the partitions spread evenly) and send every call through the placement router and gRPC, as the bank's services do; several comma-separated counts run one after the other, e.g. 1,2,4. Without it: one engine, called straight.",
            CustomParser = result => ParseList(result, "--cells", 1, LedgerBenchmarkOptions.CellsMax),
        };
        var crossCell = new Option<IReadOnlyList<int>?>("--cross-cell")
        {
            Description = "With --cells: percent (0 to 100) of transfers whose credit account is in another cell than the debit account (the two-leg saga with credit-leg delivery); several comma-separated run one after the other, e.g. 0,10,50. Default 0. With one cell only 0 runs.",
            CustomParser = result => ParseList(result, "--cross-cell", 0, 100),
        };
        var rate = CommonOptions.PositiveInt("--rate", "Offered load in transfers per second, spread over the clients on a fixed schedule (default: flat out, each call as soon as the last returned).", 0, LedgerBenchmarkOptions.OfferedTransfersPerSecondMax);
        var eventLog = new Option<IReadOnlyList<string>?>("--event-log")
        {
            Description = "Measure the event log's relay: one run per entry, in order, in this process, e.g. none,file or none,file,nats,none,file,nats: none (no relay), file (a relay publishing to a file log, as bulwark run does), nats (to JetStream on a nats-server the bench starts on a loopback port, as a cluster does); file:0 or nats:0 sets the relay's linger in milliseconds (default 20), e.g. none,file:0,file. The table adds CPU per transfer against the runs without a log and the relay's lag. Use with --rate.",
            CustomParser = ParseEventLogs,
        };
        var command = new Command("ledger", "Durable ledger transfers per second and call latency: straight to one ledger engine, or with --cells through the router to N cells (then also cross-cell share, and money conserved or exit 1).")
        {
            store, comparePgbench, clients, batch, accounts, duration, warmup, timeOrdered, seed, data, output, name, cells, crossCell, rate, eventLog,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(comparePgbench) && result.GetValue(store) == "sqlite")
            {
                result.AddError("--compare-pgbench needs --store postgres or --store postgres://...");
            }
            // The lists' own errors are reported by their parsers; read here without them (GetValue would throw).
            var cellCounts = Listed(result, cells);
            var crossCellShares = Listed(result, crossCell);
            if (result.GetResult(cells) is not null && result.GetValue(comparePgbench))
            {
                result.AddError("--compare-pgbench runs with one engine: leave --cells out.");
            }
            if (result.GetResult(eventLog) is not null && (result.GetResult(cells) is not null || result.GetValue(comparePgbench)))
            {
                result.AddError("--event-log runs with one engine: leave --cells and --compare-pgbench out.");
            }
            if (result.GetResult(cells) is null && result.GetResult(crossCell) is not null)
            {
                result.AddError("--cross-cell needs --cells.");
            }
            if (cellCounts is { } counts && counts.All(count => count == 1) && crossCellShares is { } shares && shares.Any(share => share > 0))
            {
                result.AddError("--cross-cell above 0 needs --cells 2 or more: with one cell every transfer stays in it.");
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
                OfferedTransfersPerSecond = parse.GetResult(rate) is { Implicit: false } ? parse.GetValue(rate) : null,
            };
            var commandLine = "bulwark " + string.Join(' ', parse.Tokens.Select(t => t.Value));
            if (parse.GetValue(cells) is { } cellCounts)
            {
                return await RunCellsAsync(options, cellCounts, parse.GetValue(crossCell) ?? [0], commandLine, parse.GetValue(output), parse.GetValue(name), Console.Out, cancellationToken);
            }
            if (parse.GetValue(eventLog) is { } eventLogs)
            {
                return await RunEventLogsAsync(options, eventLogs, commandLine, parse.GetValue(output), parse.GetValue(name), Console.Out, cancellationToken);
            }
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

    /// <summary>
    /// <c>bench ledger --cells</c>: one run per cell count and cross-cell share (a share above 0
    /// skipped for one cell), the table, the files; exit 1 when any run did not conserve money.
    /// </summary>
    internal static async Task<int> RunCellsAsync(LedgerBenchmarkOptions options, IReadOnlyList<int> cellCounts, IReadOnlyList<int> crossCellShares, string commandLine,
        DirectoryInfo? output, string? name, TextWriter console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        var loadBefore = LedgerBenchmark.LoadAverage();
        // The process's first run also pays for compiling what it runs (tiered JIT): about 20 µs
        // of CPU per transfer more in a 10 s run on this machine. A short run first, not reported,
        // so that the first row is comparable with the others.
        var warmup = options with { Cells = cellCounts[0], CrossCellPercent = 0, Warmup = TimeSpan.Zero, Duration = Min(options.Duration, Max(options.Warmup, TimeSpan.FromSeconds(3))) };
        console.WriteLine($"warm-up run, not reported ({warmup.Duration.TotalSeconds:0.#} s):");
        await LedgerBenchmark.RunAsync(warmup, TextWriter.Null, cancellationToken);
        var results = new List<LedgerBenchmarkResult>();
        foreach (var count in cellCounts)
        {
            foreach (var share in crossCellShares.Where(share => count > 1 || share == 0).DefaultIfEmpty(0).Distinct())
            {
                results.Add(await LedgerBenchmark.RunAsync(options with { Cells = count, CrossCellPercent = share }, console, cancellationToken));
            }
        }
        var notes = $"Command: `{commandLine}`\n\nMachine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; load average (1, 5, 15 min) before the runs {loadBefore ?? "-"}, after {LedgerBenchmark.LoadAverage() ?? "-"}. On a shared machine transfers/s moves with the other work; process CPU per transfer is the stable figure.";
        console.WriteLine();
        console.Write(LedgerBenchmarkReport.ToMarkdown(results, notes));
        if (output is not null)
        {
            var fileName = name ?? string.Create(CultureInfo.InvariantCulture, $"ledger-cells-{results[0].Store}-{results[0].StartedAt:yyyy-MM-dd}");
            var (json, markdown) = LedgerBenchmarkReport.Write(output.FullName, fileName, results, notes);
            console.WriteLine($"wrote {json} and {markdown}");
        }
        if (results.Any(result => result.MoneyConserved != true))
        {
            console.WriteLine("bulwark bench ledger: money was NOT conserved in a run (see above): the benchmark failed.");
            return 1;
        }
        return 0;
    }

    /// <summary><c>bench ledger --event-log</c>: the runs with and without the relay, the table, the files.</summary>
    internal static async Task<int> RunEventLogsAsync(LedgerBenchmarkOptions options, IReadOnlyList<string> eventLogs, string commandLine,
        DirectoryInfo? output, string? name, TextWriter console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(console);
        var runs = await RelayCostBenchmark.RunAsync(options, eventLogs, console, cancellationToken);
        var servers = runs.Servers.Count == 0 ? "" : " Servers: " + string.Join("; ", runs.Servers) + ".";
        var notes = $"Command: `{commandLine}`\n\nMachine: {LedgerBenchmarkReport.Machine()}; load average (1, 5, 15 min) before the runs {runs.LoadBefore ?? "-"}, after {runs.LoadAfter ?? "-"}.{servers} A warm-up run (not reported) came first. On a shared machine transfers/s moves with the other work; process CPU per transfer (engine, relay, log client and load generator together) is the stable figure.";
        console.WriteLine();
        console.Write(LedgerBenchmarkReport.ToMarkdown(runs.Results, notes));
        if (output is not null)
        {
            var fileName = name ?? string.Create(CultureInfo.InvariantCulture, $"relay-{runs.Results[0].Store}-{runs.Results[0].StartedAt:yyyy-MM-dd}");
            var (json, markdown) = LedgerBenchmarkReport.WriteRelayCost(output.FullName, fileName, runs, commandLine, notes);
            console.WriteLine($"wrote {json} and {markdown}");
        }
        return 0;
    }

    /// <summary>A comma-separated list of event logs (none, file, nats), or an error naming the option.</summary>
    internal static IReadOnlyList<string>? ParseEventLogs(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        var values = text.Split(',');
        if (!values.All(Bulwark.Bench.LedgerBenchmarkOptions.IsEventLog))
        {
            result.AddError($"--event-log: '{text}' must be none, file or nats (the last two optionally with :LINGER_MS, 0 to {Bulwark.Ledger.LedgerLimits.RelayLingerMillisecondsMax}, the relay's linger), comma-separated.");
            return null;
        }
        return values;
    }

    private static TimeSpan Min(TimeSpan first, TimeSpan second) => first < second ? first : second;

    private static TimeSpan Max(TimeSpan first, TimeSpan second) => first > second ? first : second;

    /// <summary>The numbers of a list option as given, or null when it is absent or not a list of numbers.</summary>
    private static List<int>? Listed(System.CommandLine.Parsing.CommandResult result, Option<IReadOnlyList<int>?> option)
    {
        if (result.GetResult(option) is not { Tokens: [var token] })
        {
            return null;
        }
        var values = new List<int>();
        foreach (var part in token.Value.Split(','))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return null;
            }
            values.Add(value);
        }
        return values;
    }

    /// <summary>A comma-separated list of whole numbers from <paramref name="min"/> to <paramref name="max"/>, or an error naming the option.</summary>
    internal static IReadOnlyList<int>? ParseList(System.CommandLine.Parsing.ArgumentResult result, string option, int min, int max)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        var values = new List<int>();
        foreach (var part in text.Split(','))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            {
                result.AddError($"{option}: '{text}' must be whole numbers from {min} to {max}, comma-separated.");
                return null;
            }
            values.Add(value);
        }
        return values;
    }
}
