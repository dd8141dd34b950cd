using System.Diagnostics;
using System.Globalization;
using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.JetStream;
using Bulwark.Lab.Postgres;
using Bulwark.Ledger;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Storage;
using Bulwark.Storage.Postgres;
using HdrHistogram;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Bulwark.Bench;

/// <summary>
/// Durable transfer throughput of the embedded ledger, measured straight on the engine API (no
/// gRPC): a fresh SQLite ledger, N accounts, C clients each submitting calls of B transfers in a
/// loop for D. A transfer counts only once its call returned OK (its batch is on disk).
/// </summary>
public static class LedgerBenchmark
{
    private const long LatencyHighestMicroseconds = 60_000_000;

    public static async Task<LedgerBenchmarkResult> RunAsync(LedgerBenchmarkOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        options.Validate();
        if (options.Cells is not null)
        {
            return await CellsLedgerBenchmark.RunAsync(options, output, cancellationToken);
        }
        if (options.Store == "postgres")
        {
            return await RunPostgresAsync(options, output, cancellationToken);
        }
        var ownDirectory = options.DataDirectory is null;
        var directory = options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "bulwark-bench-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"ledger-bench-{DateTime.UtcNow:yyyyMMddHHmmss}.db");
        try
        {
            await using var engine = LedgerEngine.CreateSqlite(new LedgerOptions { DatabasePath = path });
            await engine.StartAsync(cancellationToken);
            await CreateAccountsAsync(engine, options, cancellationToken);
            output.WriteLine(Invariant($"ledger bench: {options.Accounts:N0} accounts, {options.Clients} clients x {options.BatchSize:N0} transfers per call, {(options.TimeOrderedIds ? "time-ordered" : "random")} ids, {Load(options)}, event log {options.EventLog ?? "none"}, {options.Duration.TotalSeconds:N0} s (+{options.Warmup.TotalSeconds:N0} s warm-up), database {path}"));
            return await MeasureWithEventLogAsync(engine, options, output, cancellationToken) with { StoreVersion = "SQLite " + SQLitePCL.raw.sqlite3_libversion().utf8_to_string() };
        }
        finally
        {
            if (ownDirectory)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>
    /// The ledger on PostgreSQL: a fresh database on the given server (or on a temporary durable
    /// server started here), then, with ComparePgbench, pgbench's tpcb-like script on the same
    /// server with the same clients and duration, in a database of its own.
    /// </summary>
    private static async Task<LedgerBenchmarkResult> RunPostgresAsync(LedgerBenchmarkOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        using var server = options.PostgresConnectionString is null
            ? TemporaryPostgresServer.Start(durable: true, maxConnections: Math.Max(100, options.Clients + 20))
            : null;
        var admin = options.PostgresConnectionString ?? server!.ConnectionString();
        if (server is not null)
        {
            output.WriteLine(Invariant($"started a temporary durable PostgreSQL ({server.Version}) in {server.Root} on port {server.Port}"));
        }
        var stamp = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var ledgerDatabase = "bulwark_bench_" + stamp;
        var connectionString = CreateDatabase(admin, ledgerDatabase);
        try
        {
            string version;
            LedgerBenchmarkResult result;
            await using (var engine = new LedgerEngine(new LedgerOptions { DatabasePath = "postgres" }, new PostgresLedgerStore(connectionString)))
            {
                await engine.StartAsync(cancellationToken);
                version = ServerVersion(connectionString);
                await CreateAccountsAsync(engine, options, cancellationToken);
                output.WriteLine(Invariant($"ledger bench: {options.Accounts:N0} accounts, {options.Clients} clients x {options.BatchSize:N0} transfers per call, {(options.TimeOrderedIds ? "time-ordered" : "random")} ids, {Load(options)}, event log {options.EventLog ?? "none"}, {options.Duration.TotalSeconds:N0} s (+{options.Warmup.TotalSeconds:N0} s warm-up), PostgreSQL {PostgresConnections.Describe(connectionString)}"));
                result = await MeasureWithEventLogAsync(engine, options, output, cancellationToken);
            }
            result = result with { Store = "postgres", StoreVersion = version };
            if (options.ComparePgbench)
            {
                var pgbench = Pgbench.Run(admin, "bulwark_pgbench_" + stamp, options.Clients, options.Duration, output, cancellationToken);
                result = result with { Pgbench = pgbench };
                output.WriteLine(Invariant($"  ratio: ledger {result.TransfersPerSecond:N0} transfers/s / pgbench {pgbench.TransactionsPerSecond:N0} tps = {result.RatioToPgbench:N2}x"));
            }
            return result;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            DropDatabase(admin, ledgerDatabase);
        }
    }

    internal static string CreateDatabase(string adminConnectionString, string name)
    {
        using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(adminConnectionString) { Pooling = false });
        using var connection = PostgresConnections.Open(dataSource);
        using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        command.ExecuteNonQuery();
        return new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    internal static void DropDatabase(string adminConnectionString, string name)
    {
        try
        {
            using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(adminConnectionString) { Pooling = false }.ConnectionString);
            connection.Open();
            using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            command.ExecuteNonQuery();
        }
        catch (NpgsqlException)
        {
            // Best effort: a temporary server goes away anyway; on a shared one the name says what it is.
        }
    }

    internal static string ServerVersion(string connectionString)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SELECT version()", connection);
        var text = (string)command.ExecuteScalar()!;
        var comma = text.IndexOf(',', StringComparison.Ordinal);
        return comma > 0 ? text[..comma] : text;
    }

    private static async Task CreateAccountsAsync(LedgerEngine engine, LedgerBenchmarkOptions options, CancellationToken cancellationToken)
    {
        foreach (var chunk in Enumerable.Range(1, options.Accounts).Chunk(LedgerLimits.CreateAccountsMax))
        {
            await engine.CreateAccountsAsync(
                chunk.Select(i => new LedgerAccount { Id = (UInt128)i, Currency = "GBP", Code = 100 }).ToArray(),
                cancellationToken);
        }
    }

    private static string Load(LedgerBenchmarkOptions options) => options.OfferedTransfersPerSecond is { } rate
        ? Invariant($"offered {rate:N0} transfers/s")
        : "flat out";

    /// <summary>
    /// Without an event log (or "none"): the measurement alone. With one: a relay (the cell's own
    /// <see cref="LedgerEventRelay"/>, unchanged) publishing to it for the whole run through a
    /// <see cref="RelayLagMeter"/>; after the load, the relay is given up to
    /// <see cref="RelayCatchUpSecondsMax"/> to publish the rest, so every measured event's lag counts.
    /// </summary>
    private static async Task<LedgerBenchmarkResult> MeasureWithEventLogAsync(LedgerEngine engine, LedgerBenchmarkOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        if (options.EventLogKind is null or "none")
        {
            return await MeasureAsync(engine, options, null, output, cancellationToken) with { EventLog = options.EventLog };
        }
        var logDirectory = Path.Combine(options.DataDirectory ?? Path.GetTempPath(), "bulwark-bench-events-" + Guid.NewGuid().ToString("n"));
        try
        {
            var (inner, version) = await OpenEventLogAsync(options, logDirectory, cancellationToken);
            await using var log = new RelayLagMeter(engine, inner);
            using var metrics = new LedgerEventRelayMetrics();
            using var relay = new LedgerEventRelay(engine, log, TimeProvider.System, NullLogger<LedgerEventRelay>.Instance, metrics)
            {
                Linger = options.RelayLinger ?? TimeSpan.FromMilliseconds(LedgerLimits.RelayLingerMillisecondsDefault),
            };
            await relay.StartAsync(cancellationToken);
            using var sampling = new CancellationTokenSource();
            var sampler = log.SampleAsync(relay, sampling.Token);
            LedgerBenchmarkResult result;
            double? catchUp;
            try
            {
                result = await MeasureAsync(engine, options, log, output, cancellationToken);
                catchUp = await CatchUpAsync(engine, relay, cancellationToken);
            }
            finally
            {
                await sampling.CancelAsync();
                await sampler;
                await relay.StopAsync(CancellationToken.None);
            }
            result = result with
            {
                EventLog = options.EventLog,
                EventLogVersion = version,
                EventsPublished = log.EventsPublished,
                EventsLagMeasured = log.EventsMeasured,
                LagP50Milliseconds = log.EventsMeasured == 0 ? null : Milliseconds(log.LagMicroseconds.GetValueAtPercentile(50)),
                LagP99Milliseconds = log.EventsMeasured == 0 ? null : Milliseconds(log.LagMicroseconds.GetValueAtPercentile(99)),
                LagMaxMilliseconds = log.EventsMeasured == 0 ? null : Milliseconds(log.LagMicroseconds.GetMaxValue()),
                LagEventsP50 = log.LagEvents.TotalCount == 0 ? null : log.LagEvents.GetValueAtPercentile(50),
                LagEventsP99 = log.LagEvents.TotalCount == 0 ? null : log.LagEvents.GetValueAtPercentile(99),
                LagEventsMax = log.LagEvents.TotalCount == 0 ? null : log.LagEvents.GetMaxValue(),
                RelayCatchUpSeconds = catchUp,
            };
            output.WriteLine(Invariant($"  relay ({options.EventLog}): {result.EventsPublished:N0} events published; lag per event (publish - commit) p50 {result.LagP50Milliseconds:N1} ms, p99 {result.LagP99Milliseconds:N1} ms, max {result.LagMaxMilliseconds:N1} ms over {result.EventsLagMeasured:N0} events; lag in events p50 {result.LagEventsP50:N0}, p99 {result.LagEventsP99:N0}, max {result.LagEventsMax:N0}; caught up {(catchUp is { } seconds ? Invariant($"{seconds:N2} s") : "NOT within the bound")} after the load"));
            return result;
        }
        finally
        {
            if (Directory.Exists(logDirectory))
            {
                Directory.Delete(logDirectory, recursive: true);
            }
        }
    }

    /// <summary>How long the relay may take to publish what the load left behind; far above the 1 s goal.</summary>
    private const int RelayCatchUpSecondsMax = 30;

    private static async Task<double?> CatchUpAsync(LedgerEngine engine, LedgerEventRelay relay, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (relay.Watermark < engine.OutboxCellSequence)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(RelayCatchUpSecondsMax))
            {
                return null;
            }
            await Task.Delay(10, cancellationToken);
        }
        return Math.Round(clock.Elapsed.TotalSeconds, 3);
    }

    private static async Task<(IEventLog Log, string Version)> OpenEventLogAsync(LedgerBenchmarkOptions options, string directory, CancellationToken cancellationToken)
    {
        if (options.EventLogKind == "file")
        {
            return (FileEventLog.Open(new FileEventLogOptions { Directory = directory }), "file log");
        }
        // A stream of its own per run, so runs on one server never see each other's records.
        var bank = "bench" + Guid.NewGuid().ToString("n")[..12];
        var log = await JetStreamEventLog.OpenAsync(new JetStreamEventLogOptions { Url = options.NatsUrl!, Bank = bank }, cancellationToken: cancellationToken);
        return (log, "JetStream (one nats-server, file storage, replicas 1)");
    }

    private static async Task<LedgerBenchmarkResult> MeasureAsync(LedgerEngine engine, LedgerBenchmarkOptions options, RelayLagMeter? relayLag, TextWriter output, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var warmupEnds = options.Warmup;
        var ends = options.Warmup + options.Duration;
        var measuring = new TaskCompletionSource<(LedgerEngineStatistics Statistics, TimeSpan Cpu, TimeSpan? ServerCpu)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            await Task.Delay(warmupEnds, cancellationToken);
            relayLag?.StartMeasuring();
            measuring.TrySetResult((engine.Statistics, ProcessCpu(), options.ServerCpu?.Invoke()));
        }, cancellationToken);
        var clients = Enumerable.Range(0, options.Clients)
            .Select(client => Task.Run(() => RunClientAsync(engine, options, client, clock, warmupEnds, ends, cancellationToken), cancellationToken))
            .ToArray();
        var outcomes = await Task.WhenAll(clients);
        var measuredSeconds = clock.Elapsed.TotalSeconds - warmupEnds.TotalSeconds;
        var cpuAfter = ProcessCpu();
        var serverCpuAfter = options.ServerCpu?.Invoke();
        relayLag?.StopMeasuring();
        var (before, cpuBefore, serverCpuBefore) = await measuring.Task;
        var after = engine.Statistics;

        var latency = new LongHistogram(LatencyHighestMicroseconds, 3);
        foreach (var outcome in outcomes)
        {
            latency.Add(outcome.Latency);
        }
        var committed = outcomes.Sum(o => o.Committed);
        var batches = after.BatchesCommitted - before.BatchesCommitted;
        var result = new LedgerBenchmarkResult(
            startedAt,
            options.Accounts,
            options.Clients,
            options.BatchSize,
            Math.Round(measuredSeconds, 3),
            committed,
            Math.Round(committed / measuredSeconds, 1),
            Milliseconds(latency.GetValueAtPercentile(50)),
            Milliseconds(latency.GetValueAtPercentile(99)),
            Milliseconds(latency.GetMaxValue()),
            batches,
            batches == 0 ? 0 : Math.Round((double)(after.ItemsCommitted - before.ItemsCommitted) / batches, 1),
            outcomes.Sum(o => o.Declined),
            options.TimeOrderedIds,
            Environment.ProcessorCount,
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription)
        {
            ProcessCpuSeconds = Math.Round((cpuAfter - cpuBefore).TotalSeconds, 2),
            LoadAverage = LoadAverage(),
            OfferedTransfersPerSecond = options.OfferedTransfersPerSecond,
            ServerCpuSeconds = serverCpuBefore is { } serverBefore && serverCpuAfter is { } serverAfter ? Math.Round((serverAfter - serverBefore).TotalSeconds, 2) : null,
        };
        output.WriteLine(Invariant($"  {result.TransfersCommitted:N0} durable transfers in {result.DurationSeconds:N1} s = {result.TransfersPerSecond:N0} transfers/s"));
        output.WriteLine(Invariant($"  call latency (submit -> durable ack): p50 {result.LatencyP50Milliseconds:N2} ms, p99 {result.LatencyP99Milliseconds:N2} ms, max {result.LatencyMaxMilliseconds:N2} ms"));
        output.WriteLine(Invariant($"  writer: {result.WriterBatches:N0} batches, {result.AverageWriterBatchSize:N1} items per batch on average; declined {result.Declined:N0}"));
        output.WriteLine(Invariant($"  process CPU: {result.ProcessCpuSeconds:N2} s = {result.CpuMicrosecondsPerTransfer:N1} µs per transfer (clients included); load average {result.LoadAverage}"));
        return result;
    }

    private static async Task<ClientOutcome> RunClientAsync(LedgerEngine engine, LedgerBenchmarkOptions options, int client,
        Stopwatch clock, TimeSpan warmupEnds, TimeSpan ends, CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed + (client * 7_919));
        var latency = new LongHistogram(LatencyHighestMicroseconds, 3);
        long committed = 0;
        long declined = 0;
        var transfers = new LedgerTransfer[options.BatchSize];
        // With an offered rate each client sends a call every `interval`, the clients staggered
        // evenly inside it; a late call goes at once (the schedule is kept, never skipped).
        var interval = options.OfferedTransfersPerSecond is { } rate
            ? TimeSpan.FromSeconds((double)options.BatchSize * options.Clients / rate)
            : TimeSpan.Zero;
        var next = interval * client / options.Clients;
        while (clock.Elapsed < ends && !cancellationToken.IsCancellationRequested)
        {
            if (interval > TimeSpan.Zero)
            {
                var wait = next - clock.Elapsed;
                next += interval;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }
                if (clock.Elapsed >= ends)
                {
                    break;
                }
            }
            for (var i = 0; i < transfers.Length; i++)
            {
                var debit = random.Next(1, options.Accounts + 1);
                var credit = 1 + ((debit + random.Next(0, options.Accounts - 1)) % options.Accounts);
                transfers[i] = new LedgerTransfer
                {
                    Id = options.TimeOrderedIds
                        ? new UInt128(((ulong)Environment.TickCount64 << 16) | (uint)random.Next(0, 1 << 16), (ulong)random.NextInt64())
                        : new UInt128((ulong)random.NextInt64(1, long.MaxValue), (ulong)random.NextInt64()),
                    DebitAccountId = (UInt128)debit,
                    CreditAccountId = (UInt128)credit,
                    Amount = random.Next(1, 100_000),
                    Currency = "GBP",
                    Code = 3,
                };
            }
            var started = Stopwatch.GetTimestamp();
            var results = await engine.SubmitAsync(transfers, cancellationToken);
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (clock.Elapsed - elapsed < warmupEnds)
            {
                continue;
            }
            latency.RecordValue(Math.Min((long)elapsed.TotalMicroseconds, LatencyHighestMicroseconds));
            foreach (var result in results)
            {
                if (result.IsOk)
                {
                    committed++;
                }
                else
                {
                    declined++;
                }
            }
        }
        return new ClientOutcome(committed, declined, latency);
    }

    internal static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>The machine's 1/5/15-minute load averages (Linux), so that a run on a busy machine says so; null elsewhere.</summary>
    public static string? LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length >= 3 ? string.Join(' ', fields[..3]) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    internal static double Milliseconds(long microseconds) => Math.Round(microseconds / 1000.0, 3);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record ClientOutcome(long Committed, long Declined, LongHistogram Latency);
}
