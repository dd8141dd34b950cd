using System.Diagnostics;
using System.Globalization;
using Bulwark.Lab.Postgres;
using Bulwark.Ledger;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Storage.Postgres;
using Grpc.Core;
using HdrHistogram;
using Npgsql;

namespace Bulwark.Bench;

/// <summary>
/// <c>bench ledger --cells N</c>: durable transfers per second of a ledger of N real cells, every
/// call through the placement router and gRPC as the bank's services send it. A share of the
/// transfers (<see cref="LedgerBenchmarkOptions.CrossCellPercent"/>) has its credit account in
/// another cell than its debit account, so it goes as the two-leg saga (debit leg and owed credit
/// leg, delivered by the debit cell's loop). After the run the credit legs are drained and the
/// money checked: transit accounts net to zero, the bench's accounts net to zero, and the ledger
/// checker finds every cell whole — else the run fails.
/// </summary>
public static class CellsLedgerBenchmark
{
    private const long LatencyHighestMicroseconds = 60_000_000;

    /// <summary>Times one call is sent again after a retriable answer (the router's own retries come first) before it counts as failed.</summary>
    private const int CallAttemptsMax = 20;

    public static async Task<LedgerBenchmarkResult> RunAsync(LedgerBenchmarkOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        options.Validate();
        var cells = options.Cells ?? throw new ArgumentException("Cells must be set.", nameof(options));
        var ownDirectory = options.DataDirectory is null;
        // A directory of its own per run: a map and cell stores left by an earlier run in --data would be taken up again.
        var directory = Path.Combine(options.DataDirectory ?? Path.GetTempPath(), "bulwark-bench-cells-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(directory);
        using var server = options.Store == "postgres" && options.PostgresConnectionString is null
            ? TemporaryPostgresServer.Start(durable: true, maxConnections: Math.Max(100, (options.Clients * cells) + (40 * cells)))
            : null;
        var admin = options.PostgresConnectionString ?? server?.ConnectionString();
        var stamp = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var databases = new List<string>();
        try
        {
            Func<string, string>? postgresFor = admin is null ? null : cell =>
            {
                var name = $"bulwark_bench_{stamp}_{cell}";
                databases.Add(name);
                return LedgerBenchmark.CreateDatabase(admin, name);
            };
            await using var bank = await BenchCellBank.StartAsync(directory, cells, postgresFor, cancellationToken);
            // After the start: SQLite's library is loaded by the first store opened.
            var storeVersion = admin is null ? "SQLite " + SQLitePCL.raw.sqlite3_libversion().utf8_to_string() : LedgerBenchmark.ServerVersion(admin);
            var accounts = Enumerable.Range(1, options.Accounts).Select(i => (UInt128)i).ToArray();
            await bank.CreateAccountsAsync(accounts, cancellationToken);
            output.WriteLine(Invariant($"ledger bench: {cells} cells on {(admin is null ? "SQLite in " + directory : "PostgreSQL " + PostgresConnections.Describe(admin))}, {options.Accounts:N0} accounts, {options.CrossCellPercent}% cross-cell, {options.Clients} clients x {options.BatchSize:N0} transfers per call through the router, {options.Duration.TotalSeconds:N0} s (+{options.Warmup.TotalSeconds:N0} s warm-up)"));
            var result = await MeasureAsync(bank, new AccountsByCell(bank, accounts), options, output, cancellationToken);
            result = await CheckMoneyAsync(bank, accounts, result, output, cancellationToken);
            return result with { Store = options.Store, StoreVersion = storeVersion };
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            foreach (var database in databases)
            {
                LedgerBenchmark.DropDatabase(admin!, database);
            }
            if (ownDirectory)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static async Task<LedgerBenchmarkResult> MeasureAsync(BenchCellBank bank, AccountsByCell accounts, LedgerBenchmarkOptions options, TextWriter output,
        CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var warmupEnds = options.Warmup;
        var ends = options.Warmup + options.Duration;
        var measuring = new TaskCompletionSource<(long Batches, long Items, TimeSpan Cpu)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            await Task.Delay(warmupEnds, cancellationToken);
            var (batches, items) = WriterTotals(bank);
            measuring.TrySetResult((batches, items, LedgerBenchmark.ProcessCpu()));
        }, cancellationToken);
        var clients = Enumerable.Range(0, options.Clients)
            .Select(client => Task.Run(() => RunClientAsync(bank, accounts, options, client, clock, warmupEnds, ends, cancellationToken), cancellationToken))
            .ToArray();
        var outcomes = await Task.WhenAll(clients);
        var measuredSeconds = clock.Elapsed.TotalSeconds - warmupEnds.TotalSeconds;
        var cpuAfter = LedgerBenchmark.ProcessCpu();
        var (batchesBefore, itemsBefore, cpuBefore) = await measuring.Task;
        var (batchesAfter, itemsAfter) = WriterTotals(bank);

        var latency = new LongHistogram(LatencyHighestMicroseconds, 3);
        foreach (var outcome in outcomes)
        {
            latency.Add(outcome.Latency);
        }
        var committed = outcomes.Sum(o => o.Committed);
        var crossCell = outcomes.Sum(o => o.CrossCell);
        var batches = batchesAfter - batchesBefore;
        var result = new LedgerBenchmarkResult(
            startedAt,
            options.Accounts,
            options.Clients,
            options.BatchSize,
            Math.Round(measuredSeconds, 3),
            committed,
            Math.Round(committed / measuredSeconds, 1),
            LedgerBenchmark.Milliseconds(latency.GetValueAtPercentile(50)),
            LedgerBenchmark.Milliseconds(latency.GetValueAtPercentile(99)),
            LedgerBenchmark.Milliseconds(latency.GetMaxValue()),
            batches,
            batches == 0 ? 0 : Math.Round((double)(itemsAfter - itemsBefore) / batches, 1),
            outcomes.Sum(o => o.Declined),
            options.TimeOrderedIds,
            Environment.ProcessorCount,
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription)
        {
            ProcessCpuSeconds = Math.Round((cpuAfter - cpuBefore).TotalSeconds, 2),
            LoadAverage = LedgerBenchmark.LoadAverage(),
            Cells = bank.Map.Cells.Count,
            CrossCellPercent = options.CrossCellPercent,
            CrossCellShare = committed == 0 ? 0 : Math.Round(100.0 * crossCell / committed, 2),
            RetriableRefusals = outcomes.Sum(o => o.Retriable),
            FailedCalls = outcomes.Sum(o => o.Failed),
        };
        output.WriteLine(Invariant($"  {result.TransfersCommitted:N0} durable transfers in {result.DurationSeconds:N1} s = {result.TransfersPerSecond:N0} transfers/s; {result.CrossCellShare:N1}% cross-cell ({options.CrossCellPercent}% asked)"));
        output.WriteLine(Invariant($"  call latency (submit through the router -> durable ack): p50 {result.LatencyP50Milliseconds:N2} ms, p99 {result.LatencyP99Milliseconds:N2} ms, max {result.LatencyMaxMilliseconds:N2} ms"));
        output.WriteLine(Invariant($"  writers: {result.WriterBatches:N0} batches, {result.AverageWriterBatchSize:N1} items per batch on average; declined {result.Declined:N0}; retriable refusals {result.RetriableRefusals:N0}; failed calls {result.FailedCalls:N0}"));
        output.WriteLine(Invariant($"  process CPU: {result.ProcessCpuSeconds:N2} s = {result.CpuMicrosecondsPerTransfer:N1} µs per transfer (cells, router, gRPC and clients); load average {result.LoadAverage}"));
        return result;
    }

    /// <summary>Drains the credit legs, sums the money, stops the cells and runs the checker; the result says whether money was conserved.</summary>
    private static async Task<LedgerBenchmarkResult> CheckMoneyAsync(BenchCellBank bank, IReadOnlyList<UInt128> accounts, LedgerBenchmarkResult result, TextWriter output,
        CancellationToken cancellationToken)
    {
        var drain = Stopwatch.StartNew();
        var owed = await bank.DrainCreditLegsAsync(cancellationToken);
        var drainSeconds = drain.Elapsed.TotalSeconds;
        var money = await bank.CheckMoneyAsync(accounts, cancellationToken);
        var report = await bank.StopAndCheckAsync();
        var conserved = owed == 0 && money.Conserved && report.Ok;
        output.WriteLine(Invariant(
            $"  money: credit legs drained in {drainSeconds:N2} s ({owed} still owed); transit accounts net {money.TransitNet}, accounts net {money.AccountsNet}, pending {money.Pending}; checker over {report.CellCount} cells: {(report.Ok ? "ok" : "PROBLEMS")} ({report.TransferCount:N0} transfers) => {(conserved ? "conserved" : "NOT CONSERVED")}"));
        foreach (var problem in report.Problems.Take(20))
        {
            output.WriteLine("    " + problem);
        }
        return result with
        {
            MoneyConserved = conserved,
            TransitNet = money.TransitNet,
            CreditLegsOwedAfterDrain = owed,
            CreditLegDrainSeconds = Math.Round(drainSeconds, 3),
            CheckerOk = report.Ok,
        };
    }

    private static (long Batches, long Items) WriterTotals(BenchCellBank bank)
    {
        long batches = 0;
        long items = 0;
        foreach (var engine in bank.Cells.Engines)
        {
            batches += engine.Statistics.BatchesCommitted;
            items += engine.Statistics.ItemsCommitted;
        }
        return (batches, items);
    }

    private static async Task<ClientOutcome> RunClientAsync(BenchCellBank bank, AccountsByCell accounts, LedgerBenchmarkOptions options, int client,
        Stopwatch clock, TimeSpan warmupEnds, TimeSpan ends, CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed + (client * 7_919));
        var outcome = new ClientOutcome();
        while (clock.Elapsed < ends && !cancellationToken.IsCancellationRequested)
        {
            var request = new SubmitTransfersRequest { IdNamespace = IdNamespace.Bank };
            var crossCell = 0;
            for (var i = 0; i < options.BatchSize; i++)
            {
                var (debit, credit, across) = accounts.Pick(random, options.CrossCellPercent);
                crossCell += across ? 1 : 0;
                var id = options.TimeOrderedIds
                    ? new UInt128(((ulong)Environment.TickCount64 << 16) | (uint)random.Next(0, 1 << 16), (ulong)random.NextInt64())
                    : new UInt128((ulong)random.NextInt64(1, long.MaxValue), (ulong)random.NextInt64());
                request.Transfers.Add(new Transfer
                {
                    Id = Uint128.InNamespace(IdNamespace.Bank, id).ToProto(),
                    DebitAccountId = debit.ToProto(),
                    CreditAccountId = credit.ToProto(),
                    Amount = random.Next(1, 100_000),
                    Currency = "GBP",
                    Code = 3,
                });
            }
            var started = Stopwatch.GetTimestamp();
            var (ok, declined, retriable, failed) = await SubmitAsync(bank, request, cancellationToken);
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (clock.Elapsed - elapsed < warmupEnds)
            {
                continue;
            }
            outcome.Latency.RecordValue(Math.Min((long)elapsed.TotalMicroseconds, LatencyHighestMicroseconds));
            outcome.Committed += ok;
            outcome.Declined += declined;
            outcome.Retriable += retriable;
            outcome.Failed += failed ? 1 : 0;
            // Declines are not expected (no limits, every account exists); if one happened, the share counts the whole call.
            outcome.CrossCell += ok == request.Transfers.Count ? crossCell : (long)Math.Round((double)crossCell * ok / request.Transfers.Count);
        }
        return outcome;
    }

    /// <summary>
    /// Sends one call through the router until every transfer is answered: a retriable answer
    /// (UNAVAILABLE, or WRONG_OWNER items) sends the unanswered transfers again with the same ids,
    /// up to <see cref="CallAttemptsMax"/> times. OK (new or duplicate) counts as committed.
    /// </summary>
    internal static async Task<(long Ok, long Declined, long Retriable, bool Failed)> SubmitAsync(BenchCellBank bank, SubmitTransfersRequest request, CancellationToken cancellationToken)
    {
        long ok = 0;
        long declined = 0;
        long retriable = 0;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var answer = await bank.Ledger.SubmitTransfersAsync(request, cancellationToken: cancellationToken);
                var again = new SubmitTransfersRequest { IdNamespace = request.IdNamespace };
                for (var i = 0; i < answer.Results.Count; i++)
                {
                    switch (answer.Results[i].Status)
                    {
                        case TransferStatus.Ok:
                            ok++;
                            break;
                        case TransferStatus.WrongOwner:
                            again.Transfers.Add(request.Transfers[i]);
                            break;
                        default:
                            declined++;
                            break;
                    }
                }
                if (again.Transfers.Count == 0)
                {
                    return (ok, declined, retriable, false);
                }
                retriable++;
                if (attempt >= CallAttemptsMax)
                {
                    return (ok, declined + again.Transfers.Count, retriable, true);
                }
                request = again;
            }
            catch (RpcException error) when (error.StatusCode is StatusCode.Unavailable or StatusCode.Aborted)
            {
                retriable++;
                if (attempt >= CallAttemptsMax)
                {
                    return (ok, declined + request.Transfers.Count, retriable, true);
                }
                await Task.Delay(TimeSpan.FromMilliseconds(10 * attempt), cancellationToken);
            }
            catch (RpcException)
            {
                return (ok, declined + request.Transfers.Count, retriable, true);
            }
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class ClientOutcome
    {
        public long Committed { get; set; }

        public long Declined { get; set; }

        public long CrossCell { get; set; }

        public long Retriable { get; set; }

        public long Failed { get; set; }

        public LongHistogram Latency { get; } = new(LatencyHighestMicroseconds, 3);
    }

    /// <summary>The bench's accounts grouped by the cell the map places them in, to pick same-cell or cross-cell pairs.</summary>
    private sealed class AccountsByCell
    {
        private readonly UInt128[] _all;
        private readonly UInt128[][] _byCell;
        private readonly int[] _cellOf;

        public AccountsByCell(BenchCellBank bank, UInt128[] accounts)
        {
            var cells = bank.Map.Cells.Keys.Order(StringComparer.Ordinal).ToArray();
            _all = accounts;
            _cellOf = accounts.Select(id => Array.IndexOf(cells, bank.Map.CellOf(LedgerPartitioner.PartitionOf(id, bank.Map.PartitionCount)))).ToArray();
            _byCell = cells.Select((_, cell) => accounts.Where((_, index) => _cellOf[index] == cell).ToArray()).ToArray();
            if (_byCell.Any(group => group.Length < 2))
            {
                throw new ArgumentException("Too few accounts for this many cells: every cell needs at least two.");
            }
        }

        /// <summary>A debit account at random, and a credit account in another cell with odds <paramref name="crossCellPercent"/>%, else in the debit's cell.</summary>
        public (UInt128 Debit, UInt128 Credit, bool CrossCell) Pick(Random random, int crossCellPercent)
        {
            var index = random.Next(_all.Length);
            var cell = _cellOf[index];
            if (_byCell.Length > 1 && random.Next(100) < crossCellPercent)
            {
                var other = (cell + 1 + random.Next(_byCell.Length - 1)) % _byCell.Length;
                return (_all[index], _byCell[other][random.Next(_byCell[other].Length)], true);
            }
            var same = _byCell[cell];
            while (true)
            {
                var credit = same[random.Next(same.Length)];
                if (credit != _all[index])
                {
                    return (_all[index], credit, false);
                }
            }
        }
    }
}
