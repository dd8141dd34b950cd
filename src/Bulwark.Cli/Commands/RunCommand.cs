using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Bulwark.CardNetwork;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Hosting;
using Bulwark.Cli.Workload;
using Bulwark.Ledger;
using Bulwark.Ledger.Cells;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark run</c>: the whole bank in one process, seeded, with live background traffic.</summary>
internal static class RunCommand
{
    public const int PortDefault = 8080;

    /// <summary>The staff edge's port when --port is the default (its own port, beside the app's).</summary>
    public const int StaffPortDefault = 8081;

    /// <summary>The operator gateway's port when --port is the default (beside the staff edge's).</summary>
    public const int OperatorPortDefault = 8082;
    public const int RateDefault = 200;
    public const int CustomersDefault = 1_000;
    public const int CardRateDefault = 100;
    public const int CardRateMax = 20_000;

    private static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RedirectedStatusInterval = TimeSpan.FromSeconds(5);

    public static Command Create()
    {
        var data = CommonOptions.Data();
        var port = CommonOptions.Port("--port", "Port of the web app and app API on 127.0.0.1; 0 picks a free one (printed at start).", PortDefault);
        var rate = CommonOptions.PositiveInt("--rate", "Background operations per second (payments, pot moves, feed reads).", RateDefault, 100_000);
        var duration = CommonOptions.Duration("--for", "Stop by itself after this long and print a summary, e.g. 30s. Default: run until Ctrl-C.");
        var customers = CommonOptions.PositiveInt("--customers", "Demo customers seeded on first start.", CustomersDefault, 1_000_000);
        var seed = new Option<int>("--seed") { Description = "Seed for demo data and workload choices.", DefaultValueFactory = _ => 42 };
        var cardLinkPort = CommonOptions.Port("--card-link-port", "Port of the ISO 8583 card link on 127.0.0.1. Default: 0, a free port (printed at start).", 0);
        var staffPort = new Option<int?>("--staff-port")
        {
            Description = $"Port of the staff edge (staff login and the staff API) on 127.0.0.1. Default: --port + 1 ({StaffPortDefault}), a free one with --port 0 (printed at start).",
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= 65_535)
                {
                    return value;
                }
                result.AddError($"--staff-port must be a port number from 0 to 65535, not '{text}'.");
                return null;
            },
        };
        var operatorPort = new Option<int?>("--operator-port")
        {
            Description = $"Port of the staff edge's operator gateway (HTTP/2: the operator CLI's calls) on 127.0.0.1. Default: --port + 2 ({OperatorPortDefault}), a free one with --port 0 (printed at start).",
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= 65_535)
                {
                    return value;
                }
                result.AddError($"--operator-port must be a port number from 0 to 65535, not '{text}'.");
                return null;
            },
        };
        var cardRate = new Option<int>("--card-rate")
        {
            Description = "Card authorisations per second the scheme simulator sends to the card link over TCP, besides --rate. 0 turns card traffic off.",
            DefaultValueFactory = _ => CardRateDefault,
            CustomParser = result =>
            {
                // Parsed here rather than validated afterwards: a validator cannot read a value that is not a number.
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= CardRateMax)
                {
                    return value;
                }
                result.AddError($"--card-rate must be a whole number from 0 to {CardRateMax:N0}, not '{text}'.");
                return 0;
            },
        };
        var cells = new Option<int?>("--cells")
        {
            Description = $"Ledger cells of a NEW bank (1 to {BankLedger.CellsMax}; default {BankLedger.CellsDefault}): independent stores, each with its own writer, owning a share of the partitions (docs/internals/cells.md). An existing bank keeps the cells it has.",
        };
        cells.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } value && value is < 1 or > BankLedger.CellsMax)
            {
                result.AddError($"--cells must be 1 to {BankLedger.CellsMax}, not {value}.");
            }
        });
        var noWorkload = new Option<bool>("--no-workload") { Description = "Serve the bank without background traffic (no card traffic either)." };
        var store = new Option<string?>("--store") { Description = "Keep the ledger and accounts in PostgreSQL: postgres://user[:password]@host[:port]/database (schemas 'ledger' and 'accounts', migrated at start; keys and demo files stay under --data). Default: the " + CommonOptions.StoreVariable + " environment variable when set, else SQLite files under --data. " + CommonOptions.StoreHelp };
        store.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } url)
            {
                try
                {
                    Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(url);
                }
                catch (FormatException error)
                {
                    result.AddError($"--store: {error.Message}");
                }
            }
        });
        var command = new Command("run", "Run the whole bank in one process on embedded storage, with demo data and live traffic.")
        {
            data, port, staffPort, operatorPort, rate, cardRate, duration, customers, seed, noWorkload, store, cardLinkPort, cells,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            // Everything the bank writes under --data is private to its user (docs/internals/security.md).
            Bulwark.Platform.Security.PrivateFiles.RestrictNewFilesToOwner();
            var (postgres, storeError) = CommonOptions.PostgresConnectionString(parse.GetValue(store));
            if (storeError is not null)
            {
                await Console.Error.WriteLineAsync($"bulwark run: {storeError}");
                return 2;
            }
            return await RunAsync(new RunSettings(
                new BankPaths(parse.GetValue(data)!.FullName),
                parse.GetValue(port),
                parse.GetValue(noWorkload) ? 0 : parse.GetValue(rate),
                parse.GetValue(duration),
                parse.GetValue(customers),
                parse.GetValue(seed))
            {
                LedgerPostgres = postgres,
                CardLinkPort = parse.GetValue(cardLinkPort),
                StaffPort = parse.GetValue(staffPort) ?? (parse.GetValue(port) is 0 or 65_535 ? 0 : parse.GetValue(port) + 1),
                OperatorPort = parse.GetValue(operatorPort) ?? (parse.GetValue(port) is 0 or >= 65_534 ? 0 : parse.GetValue(port) + 2),
                Cells = parse.GetValue(cells),
                CardRate = parse.GetValue(noWorkload) ? 0 : parse.GetValue(cardRate),
            }, cancellationToken);
        });
        return command;
    }

    private sealed record RunSettings(BankPaths Paths, int Port, int Rate, TimeSpan? Duration, int Customers, int Seed)
    {
        /// <summary>The ledger's PostgreSQL connection string (--store or BULWARK_STORE), or null for SQLite.</summary>
        public string? LedgerPostgres { get; init; }

        /// <summary>Cells of a new bank; null: the default, or what an existing bank has.</summary>
        public int? Cells { get; init; }

        /// <summary>The card link's port (--card-link-port); 0 picks a free one.</summary>
        public int CardLinkPort { get; init; }

        /// <summary>The staff edge's port (--staff-port, else --port + 1); 0 picks a free one.</summary>
        public int StaffPort { get; init; }

        /// <summary>The operator gateway's port (--operator-port, else --port + 2); 0 picks a free one.</summary>
        public int OperatorPort { get; init; }

        /// <summary>Card authorisations per second from the scheme simulator (--card-rate); 0 for none.</summary>
        public int CardRate { get; init; }
    }

    /// <summary>
    /// False, after saying why, when the bank's placement map is older than what its cells have seen
    /// or gives a partition to two cells (<see cref="PlacementConsistency"/>): such a map is refused,
    /// never obeyed. Warnings are printed and the bank starts. A cell that cannot be read here is left
    /// for the ledger's own start to report.
    /// </summary>
    private static async Task<bool> PlacementAgreesWithTheCellsAsync(BankPaths paths)
    {
        PlacementConsistencyReport? report;
        try
        {
            report = BankLedger.CheckPlacement(paths);
        }
        catch (Exception error) when (error is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            return true;
        }
        if (report is null)
        {
            return true;
        }
        if (!report.Ok)
        {
            await Console.Error.WriteLineAsync($"bulwark run: the placement map {paths.Placement} disagrees with the ledger's cells; refusing to start on it. Restore the bank's last backup (docs/runbooks/backup-and-restore.md) or see docs/runbooks/ledger-cells.md.");
        }
        LedgerCommand.WriteIssues(report, Console.Error);
        if (report.Ok && BankLedger.ReadMap(paths) is { } map)
        {
            IReadOnlyList<string> lost;
            try
            {
                lost = BankLedger.LostCells(paths, map);
            }
            catch (InvalidOperationException error)
            {
                // A damaged births file: said once here; a store made new refuses to start on it.
                await Console.Error.WriteLineAsync($"bulwark run: {error.Message}");
                lost = [];
            }
            foreach (var cell in lost)
            {
                await Console.Error.WriteLineAsync(
                    $"bulwark run: cell {cell}'s ledger store {paths.LedgerCell(cell)} is gone, but the cell held data (its birth is recorded in {paths.CellBirths}): a new store owns nothing, and its {map.PartitionsOf(cell).Count} partitions are refused (never \"not found\") until it is rebuilt: stop the bank, then bulwark ledger replay --data {paths.DataDirectory} --cell {cell} --into {paths.LedgerCell(cell)} (docs/runbooks/ledger-replay.md).");
            }
        }
        return report.Ok;
    }

    private static async Task<int> RunAsync(RunSettings settings, CancellationToken cancellationToken)
    {
        var output = Console.Out;
        BankLock? bankLock;
        string holder;
        try
        {
            bankLock = BankLock.TryAcquire(settings.Paths.DataDirectory, out holder);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"bulwark run: cannot use {settings.Paths.DataDirectory} as the data directory: {error.Message}");
            return 2;
        }
        using var heldLock = bankLock;
        if (bankLock is null)
        {
            await Console.Error.WriteLineAsync($"bulwark run: another bank is running on {settings.Paths.DataDirectory} ({holder}). Stop it, or pass --data for another directory.");
            return 2;
        }
        if (settings.LedgerPostgres is null && !await PlacementAgreesWithTheCellsAsync(settings.Paths))
        {
            return 2;
        }
        WebApplication built;
        try
        {
            built = BankHost.Build(settings.Paths, new IPEndPoint(IPAddress.Loopback, settings.Port), ledgerPostgres: settings.LedgerPostgres, cardLinkPort: settings.CardLinkPort, cells: settings.Cells,
                staffEndpoint: new IPEndPoint(IPAddress.Loopback, settings.StaffPort), operatorEndpoint: new IPEndPoint(IPAddress.Loopback, settings.OperatorPort));
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException)
        {
            // The edge reads its signing keys while the host is built: a key file others can read stops it here.
            await Console.Error.WriteLineAsync($"bulwark run: the bank could not start: {Messages(error)}");
            return 2;
        }
        await using var app = built;
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException error) when (error.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"bulwark run: cannot listen on 127.0.0.1:{settings.Port} (app), 127.0.0.1:{settings.StaffPort} (staff edge) or 127.0.0.1:{settings.OperatorPort} (operator gateway): the address is already in use. Is another bank running? Pass --port, --staff-port and --operator-port to choose other ports.");
            return 2;
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException or System.Data.Common.DbException)
        {
            // A bad data directory, key file or database: one clear line, not a stack trace.
            await Console.Error.WriteLineAsync($"bulwark run: the bank could not start: {Messages(error)}");
            return 2;
        }
        // With --port 0 the port is the one Kestrel bound.
        var bound = app.Services.GetRequiredService<Bulwark.Platform.Hosting.InternalEndpointAccessor>().GetPublic()?.Port ?? settings.Port;
        // Operator commands in other processes (bulwark customers --data DIR) find the internal gRPC endpoint here.
        var endpoints = app.Services.GetRequiredService<Bulwark.Platform.Hosting.InternalEndpointAccessor>();
        var staffBound = endpoints.GetStaff();
        var operatorBound = endpoints.GetOperator();
        using var endpointFile = BankEndpointFile.Write(settings.Paths.DataDirectory, endpoints.Get(), operatorBound, staffBound);
        await output.WriteLineAsync($"Bulwark is running: http://127.0.0.1:{bound}/   (data in {settings.Paths.DataDirectory})");
        await output.WriteLineAsync($"staff edge (console, ops view, staff API): http://{staffBound}{Bulwark.Edge.Staff.StaffPaths.Pages}/");
        await output.WriteLineAsync($"operator gateway (bulwark staff login, then operator commands with --reason): http://{operatorBound} (HTTP/2)");
        var cardLink = await app.Services.GetRequiredService<Bulwark.Cards.CardLink>().GetEndpointAsync();
        await output.WriteLineAsync($"card link (ISO 8583) listening on {cardLink}");

        var population = await LoadOrSeedAsync(app, settings, output, cancellationToken);
        if (population is null)
        {
            await app.StopAsync(CancellationToken.None);
            return 130;
        }
        await output.WriteLineAsync($"Demo login: {DemoSeeder.DemoEmail} / {DemoSeeder.DemoPassword}   ({population.Customers.Count:N0} customers)");
        var staffDirectory = new Bulwark.Support.Protos.StaffDirectory.StaffDirectoryClient(app.Services.GetRequiredService<Bulwark.Platform.Discovery.IServiceChannelFactory>().GetChannel(BankModules.Support));
        await output.WriteLineAsync(await DemoStaff.EnsureAsync(staffDirectory, settings.Paths.DemoStaff, cancellationToken));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var workload = new BankWorkload(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<FeedClient>(), app.Services.GetRequiredService<LedgerClient>(), population, population.TrafficSeed(settings.Seed));
        var cardTraffic = settings.CardRate > 0
            ? new CardTraffic(cardLink, population, settings.CardRate, population.TrafficSeed(settings.Seed), settings.Paths.SchemeClearing)
            : null;
        if (settings.Rate > 0 || settings.CardRate > 0)
        {
            // Before taking traffic: a cold process would answer the first card authorisations in stand-in.
            await WarmUpAsync(workload, app.Services.GetRequiredService<Bulwark.Cards.CardsWarmUp>(), stop.Token);
        }
        if (settings.Duration is { } runFor)
        {
            // --for is how long the traffic runs: counted from here, after the warm-up (on a loaded
            // machine the warm-up alone took the whole of a 3 s run, and no payment was made).
            stop.CancelAfter(runFor);
        }
        // Said once the bank is warm and the traffic starts: a Ctrl-C after this line stops a running bank.
        var cards = settings.CardRate > 0 ? $" and {settings.CardRate} card authorisations/s" : "";
        await output.WriteLineAsync(settings.Duration is { } limit
            ? $"Running for {limit.TotalSeconds:0.#} s at {settings.Rate} ops/s{cards}."
            : $"Running at {settings.Rate} ops/s{cards}. Press Ctrl-C to stop.");
        var started = Stopwatch.GetTimestamp();
        var startedUtc = DateTime.UtcNow;
        // Stopped during the warm-up (Ctrl-C soon after the start): no traffic, straight to the summary.
        var stopped = stop.IsCancellationRequested;
        var running = settings.Rate > 0 && !stopped ? workload.RunAsync(settings.Rate, stop.Token) : WaitAsync(stop.Token);
        var cardsRunning = cardTraffic is null || stopped ? Task.FromResult<SchemeSimulatorResult?>(null) : RunCardsAsync(cardTraffic, stop.Token);
        var cardsStatus = app.Services.GetRequiredService<Bulwark.Cards.CardsStatus>();
        await ReportWhileRunningAsync(workload.Recorder, cardTraffic, cardsStatus, running, output, stop.Token);
        await running;
        var cardResult = await cardsRunning;
        var elapsed = Stopwatch.GetElapsedTime(started);

        await app.StopAsync(CancellationToken.None);
        // Read once the services have stopped: what is left is what the next start must post.
        var cardsSummary = new CardsSummary(cardResult, cardsStatus.StandInDecisions, cardsStatus.DecisionsWaitingForLedger());
        var exit = await SummariseAsync(workload.Recorder, cardsSummary, elapsed, settings.Paths, output, settings.LedgerPostgres, startedUtc);
        // The coherence checker ran beside the traffic: a read that missed an acknowledged write fails the run.
        var coherence = app.Services.GetRequiredService<Bulwark.Coherence.Checking.CoherenceStatus>();
        await output.WriteLineAsync(CoherenceCommand.Describe(coherence));
        return coherence.Missing > 0 ? 1 : exit;
    }

    /// <summary>
    /// Runs the scheme simulator until the run stops; it then waits for the last answers, advices
    /// and reversals (bounded) and writes the run's clearing file. A link that never signs on is
    /// reported and the bank runs on without card traffic.
    /// </summary>
    private static async Task<SchemeSimulatorResult?> RunCardsAsync(CardTraffic traffic, CancellationToken cancellationToken)
    {
        try
        {
            return await traffic.RunAsync(cancellationToken);
        }
        catch (TimeoutException error)
        {
            await Console.Error.WriteLineAsync($"bulwark run: no card traffic: {error.Message}");
            return null;
        }
    }

    private static async Task<DemoPopulation?> LoadOrSeedAsync(WebApplication app, RunSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        if (DemoPopulation.TryLoad(settings.Paths.DemoPopulation) is { } existing)
        {
            return existing.RecordStart(settings.Paths.DemoPopulation);
        }
        await output.WriteLineAsync($"First start: seeding {settings.Customers:N0} demo customers through the services...");
        var watch = Stopwatch.StartNew();
        var seeder = new DemoSeeder(app.Services.GetRequiredService<AccountsClient>(), app.Services.GetRequiredService<LedgerClient>(), output);
        try
        {
            var population = await seeder.SeedAsync(settings.Customers, settings.Seed, cancellationToken);
            population.Save(settings.Paths.DemoPopulation);
            await output.WriteLineAsync($"Seeded in {watch.Elapsed.TotalSeconds:0.0} s.");
            return population;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task WarmUpAsync(BankWorkload workload, Bulwark.Cards.CardsWarmUp cards, CancellationToken cancellationToken)
    {
        try
        {
            // The card hold path too: the scheme's first authorisations follow at once.
            await Task.WhenAll(workload.WarmUpAsync(cancellationToken), cards.WarmUpAsync(cancellationToken));
        }
        catch (Exception error) when (cancellationToken.IsCancellationRequested && error is OperationCanceledException or Grpc.Core.RpcException or TimeoutException)
        {
            // Stopped while warming up (a cancelled call ends as an RpcException, not only as
            // OperationCanceledException): the run ends at once with an empty summary.
        }
    }

    private static async Task WaitAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopped by Ctrl-C or --for: the normal end of a run.
        }
    }

    private static async Task ReportWhileRunningAsync(LatencyRecorder recorder, CardTraffic? cards, Bulwark.Cards.CardsStatus cardsStatus, Task running, TextWriter output, CancellationToken cancellationToken)
    {
        var interactive = !Console.IsOutputRedirected;
        var interval = interactive ? StatusInterval : RedirectedStatusInterval;
        var started = Stopwatch.GetTimestamp();
        long lastErrors = 0;
        while (!running.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            await Task.WhenAny(running, Task.Delay(interval, cancellationToken)).ContinueWith(_ => { }, TaskScheduler.Default);
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            var snapshot = recorder.TakeInterval();
            var errors = recorder.Errors;
            var line = string.Create(CultureInfo.InvariantCulture,
                $"  {Stopwatch.GetElapsedTime(started).TotalSeconds,5:0}s  {snapshot.Count / interval.TotalSeconds,7:0} ops/s  p50 {snapshot.P50Milliseconds,6:0.0} ms  p99 {snapshot.P99Milliseconds,6:0.0} ms  ok {recorder.Ok:N0}  declined {recorder.Declined:N0}  errors {errors:N0}");
            if (cards is not null)
            {
                line += " | " + cards.StatusSince(interval, cardsStatus.StandInDecisions);
            }
            if (interactive && errors == lastErrors)
            {
                await output.WriteAsync("\r" + line.PadRight(Math.Max(line.Length, 100)));
            }
            else
            {
                await output.WriteLineAsync(line);
            }
            lastErrors = errors;
        }
        if (interactive)
        {
            await output.WriteLineAsync();
        }
    }

    private static string Messages(Exception error)
    {
        var messages = new List<string>();
        for (var current = error; current is not null; current = current.InnerException)
        {
            if (messages.Count == 0 || !messages[^1].Contains(current.Message, StringComparison.Ordinal))
            {
                messages.Add(current.Message);
            }
        }
        return string.Join(" <- ", messages);
    }

    private static IEnumerable<string> ClearingFilesSince(string directory, DateTime sinceUtc) => Directory.Exists(directory)
        ? Directory.EnumerateFiles(directory, "clearing-*.txt").Where(file => File.GetLastWriteTimeUtc(file) >= sinceUtc.AddSeconds(-1)).Order(StringComparer.Ordinal)
        : [];

    private static string Describe(Operation operation) => operation switch
    {
        Operation.Payment => "payments",
        Operation.PotMove => "pot moves",
        Operation.Income => "income",
        _ => "feed reads",
    };

    /// <summary>The card figures at shutdown: the scheme's result (null without card traffic), the bank's own stand-in decisions, the journal's backlog.</summary>
    private sealed record CardsSummary(SchemeSimulatorResult? Scheme, long BankStandIn, long WaitingForLedger);

    private static async Task<int> SummariseAsync(LatencyRecorder recorder, CardsSummary cards, TimeSpan elapsed, BankPaths paths, TextWriter output, string? ledgerPostgres = null,
        DateTime? startedUtc = null)
    {
        var total = recorder.Total();
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Summary: {elapsed.TotalSeconds:0.0} s, {total.Count:N0} operations ({total.Count / Math.Max(elapsed.TotalSeconds, 0.001):0.0}/s): {recorder.Ok:N0} ok, {recorder.Declined:N0} declined, {recorder.Errors:N0} errors, {recorder.Shed:N0} shed"));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Latency: p50 {total.P50Milliseconds:0.00} ms, p99 {total.P99Milliseconds:0.00} ms, p99.9 {total.P999Milliseconds:0.00} ms, max {total.MaxMilliseconds:0.00} ms"));
        foreach (var operation in Enum.GetValues<Operation>())
        {
            var one = recorder.Total(operation);
            if (one.Count > 0)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"  {Describe(operation),-14} {one.Count,8:N0}  p50 {one.P50Milliseconds,7:0.00} ms  p99 {one.P99Milliseconds,7:0.00} ms  max {one.MaxMilliseconds,8:0.00} ms"));
            }
        }
        if (cards.Scheme is { } scheme)
        {
            foreach (var line in CardTraffic.Describe(scheme, cards.BankStandIn))
            {
                await output.WriteLineAsync(line);
            }
            // Files of this run: written since its traffic started (not "now minus the traffic's
            // length", which a slow stop of the services pushed past the file's time under load).
            foreach (var file in ClearingFilesSince(paths.SchemeClearing, startedUtc ?? DateTime.UtcNow - elapsed))
            {
                await output.WriteLineAsync($"Clearing file: {file}   (post it with: bulwark cards clear {file} --data {paths.DataDirectory})");
            }
        }
        if (cards.Scheme is not null || cards.BankStandIn > 0 || cards.WaitingForLedger > 0)
        {
            await output.WriteLineAsync(CardTraffic.DescribeJournal(cards.WaitingForLedger));
        }
        var check = BankLedger.Check(paths, ledgerPostgres);
        await output.WriteLineAsync(LedgerCommand.Describe(check));
        return recorder.Errors == 0 && recorder.Shed == 0 && check.Ok ? 0 : 1;
    }
}
