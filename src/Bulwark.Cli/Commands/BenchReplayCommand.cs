using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.Lab.Postgres;
using Bulwark.Ledger;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Google.Protobuf;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark bench replay</c>: how fast <c>ledger replay</c> rebuilds a cell and <c>ledger verify</c>
/// compares it (docs/runbooks/ledger-replay.md, "How long it takes"). It writes a file log of one
/// cell owning every partition — events shaped as the engine's (a batch's change to one partition:
/// its transfer rows and the balances after), WHOLE transfers between accounts of the partition —
/// then replays it into a new store, SQLite or PostgreSQL, and verifies the store against the log.
/// </summary>
internal static class BenchReplayCommand
{
    private const string Cell = "a";

    public static Command Create()
    {
        var transfers = CommonOptions.PositiveInt("--transfers", "Transfer rows in the log.", 1_000_000, 100_000_000);
        var accounts = CommonOptions.PositiveInt("--accounts", "Accounts, spread over the partitions.", 10_000, 10_000_000);
        var perEvent = CommonOptions.PositiveInt("--per-event", "Transfer rows per event (the engine writes one event per batch and partition: about 35 rows for a batch of 4,400 random transfers over 256 partitions).", 35, 10_000);
        var store = new Option<string>("--store")
        {
            Description = "Replay into: sqlite (a new file under --data), postgres (a temporary durable server started for the run), or postgres://user@host:port/db (an empty database).",
            DefaultValueFactory = _ => "sqlite",
        };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Directory for the log and the SQLite store (default: a temporary directory, deleted afterwards)." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write the result as markdown into this directory." };
        var name = new Option<string?>("--name") { Description = "File name (without extension) for --out. Default: replay-STORE-YYYY-MM-DD." };
        var command = new Command("replay", "Replay speed: a synthetic event log of one cell written, replayed into a new store (events/s, seconds per million transfers) and verified against the store.")
        {
            transfers, accounts, perEvent, store, data, output, name,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var directory = parse.GetValue(data)?.FullName ?? Path.Combine(Path.GetTempPath(), "bulwark-bench-replay-" + Guid.NewGuid().ToString("n"));
            var temporary = parse.GetValue(data) is null;
            Directory.CreateDirectory(directory);
            var target = parse.GetValue(store)!;
            TemporaryPostgresServer? server = null;
            try
            {
                string? postgres = target switch
                {
                    "sqlite" => null,
                    "postgres" => (server = TemporaryPostgresServer.Start(durable: true)).CreateDatabase("replay"),
                    _ => Bulwark.Storage.Postgres.PostgresConnections.ConnectionStringFromUrl(target),
                };
                var result = await RunAsync(directory, parse.GetValue(transfers), parse.GetValue(accounts), parse.GetValue(perEvent), postgres, cancellationToken);
                var report = Describe(result, target == "sqlite" ? "SQLite" : "PostgreSQL" + (server is null ? "" : " (temporary durable server)"));
                await Console.Out.WriteLineAsync(report);
                if (parse.GetValue(output) is { } outDirectory)
                {
                    Directory.CreateDirectory(outDirectory.FullName);
                    var file = Path.Combine(outDirectory.FullName, (parse.GetValue(name) ?? $"replay-{(target == "sqlite" ? "sqlite" : "postgres")}-{DateTime.UtcNow:yyyy-MM-dd}") + ".md");
                    await File.WriteAllTextAsync(file, report + Environment.NewLine, cancellationToken);
                    await Console.Out.WriteLineAsync($"written: {file}");
                }
                return 0;
            }
            finally
            {
                server?.Dispose();
                if (temporary)
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
        });
        return command;
    }

    private sealed record Result(long Events, long Transfers, int Accounts, TimeSpan Write, LedgerReplayResult Replay, TimeSpan Verify, bool VerifiedEqual, double ProcessCpuSeconds);

    private static async Task<Result> RunAsync(string directory, int transfers, int accountCount, int perEvent, string? postgres, CancellationToken cancellationToken)
    {
        var partitions = LedgerLimits.PartitionCountDefault;
        var clock = Stopwatch.StartNew();
        long events;
        await using (var log = FileEventLog.Open(new FileEventLogOptions { Directory = Path.Combine(directory, "events") }))
        {
            events = await WriteLogAsync(log, partitions, transfers, accountCount, perEvent, cancellationToken);
        }
        var write = clock.Elapsed;
        var plan = new LedgerReplayPlan(Cell, "bench", partitions, Enumerable.Range(0, partitions).Select(partition => new ReplayPartition(partition, 1)).ToArray());
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        LedgerReplayResult replayed;
        var path = Path.Combine(directory, "replayed.db");
        await using (var log = FileEventLog.Open(new FileEventLogOptions { Directory = Path.Combine(directory, "events") }))
        {
            using (ILedgerStore store = postgres is null ? new SqliteLedgerStore(path) : new PostgresLedgerStore(postgres))
            {
                replayed = await new LedgerReplayer(log, store, plan).RunAsync(cancellationToken);
            }
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            clock.Restart();
            var report = await LedgerLogComparison.CompareWithLogAsync(log, postgres is null ? LedgerCellSource.Sqlite(path) : LedgerCellSource.Postgres(postgres), plan.Partitions, partitions, cancellationToken);
            return new Result(events, transfers, accountCount, write, replayed, clock.Elapsed, report.Ok, cpuSeconds);
        }
    }

    /// <summary>Events as the engine writes them: accounts created in their partition's first event, then WHOLE transfers and the balances after.</summary>
    private static async Task<long> WriteLogAsync(IEventLog log, int partitions, int transfers, int accountCount, int perEvent, CancellationToken cancellationToken)
    {
        var random = new Random(42);
        var byPartition = Enumerable.Range(0, partitions).Select(_ => new List<LedgerAccount>()).ToArray();
        for (var id = 1; id <= accountCount; id++)
        {
            var account = new LedgerAccount { Id = (UInt128)id, Currency = "GBP", Flags = AccountFlags.None, Code = 1, CreatedAtUnixMs = 1 };
            byPartition[LedgerPartitioner.PartitionOf(account.Id, partitions)].Add(account);
        }
        var usable = Enumerable.Range(0, partitions).Where(partition => byPartition[partition].Count >= 2).ToArray();
        var sequences = new long[partitions];
        var created = new bool[partitions];
        var pending = new List<EventRecord>();
        long cellSequence = 0;
        long transferSequence = 0;
        long written = 0;
        while (written < transfers)
        {
            var partition = usable[random.Next(usable.Length)];
            var change = new PartitionChange { FormatVersion = LedgerEventFormat.Version, Partition = (uint)partition, CommittedAtUnixMs = 1_000 + written };
            var accounts = byPartition[partition];
            if (!created[partition])
            {
                change.AccountsCreated.AddRange(accounts.Select(account => account.ToProto()));
                created[partition] = true;
            }
            var touched = new Dictionary<int, LedgerAccount>();
            for (var i = 0; i < perEvent && written < transfers; i++, written++)
            {
                var debit = random.Next(accounts.Count);
                var credit = (debit + 1 + random.Next(accounts.Count - 1)) % accounts.Count;
                var amount = 1 + random.Next(10_000);
                var row = new LedgerTransfer
                {
                    Id = ((UInt128)1 << 64) | (UInt128)(ulong)(written + 1),
                    DebitAccountId = accounts[debit].Id,
                    CreditAccountId = accounts[credit].Id,
                    Amount = amount,
                    Currency = "GBP",
                    Code = 3,
                    TimestampUnixMs = 1_000 + written,
                    State = TransferState.Posted,
                    Sequence = ++transferSequence,
                };
                change.TransfersWritten.Add(row.ToProto());
                accounts[debit] = touched[debit] = accounts[debit] with { DebitsPosted = accounts[debit].DebitsPosted + amount };
                accounts[credit] = touched[credit] = accounts[credit] with { CreditsPosted = accounts[credit].CreditsPosted + amount };
            }
            change.Balances.AddRange(touched.Values.Select(account => new AccountBalances
            {
                Id = account.Id.ToProto(),
                DebitsPending = account.DebitsPending,
                DebitsPosted = account.DebitsPosted,
                CreditsPending = account.CreditsPending,
                CreditsPosted = account.CreditsPosted,
            }));
            pending.Add(new EventRecord(partition, ++sequences[partition], Cell, ++cellSequence, (int)LedgerEventKind.PartitionChange, change.ToByteArray()));
            if (pending.Count == EventLogLimits.AppendRecordsMax / 10)
            {
                await log.AppendAsync(pending, cancellationToken);
                pending.Clear();
            }
        }
        if (pending.Count > 0)
        {
            await log.AppendAsync(pending, cancellationToken);
        }
        return cellSequence;
    }

    private static string Describe(Result result, string store)
    {
        var replay = result.Replay;
        var seconds = Math.Max(replay.Elapsed.TotalSeconds, 0.001);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Ledger replay: {store}, {DateTime.UtcNow:yyyy-MM-dd}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; load average (1 min) at the end: {LoadAverage()}.");
        text.AppendLine(CultureInfo.InvariantCulture, $"Log: one cell, {LedgerLimits.PartitionCountDefault} partitions, {result.Accounts:N0} accounts, {result.Transfers:N0} WHOLE transfer rows in {result.Events:N0} events (file log, written in {result.Write.TotalSeconds:F1} s).");
        text.AppendLine();
        text.AppendLine("| step | time | events/s | transfer rows/s | per million transfers | process CPU |");
        text.AppendLine("|---|---|---|---|---|---|");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| replay | {replay.Elapsed.TotalSeconds:F1} s | {replay.Events / seconds:N0} | {replay.TransferRows / seconds:N0} | {seconds / replay.TransferRows * 1_000_000:F1} s | {result.ProcessCpuSeconds:F1} s |");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| verify (log vs store) | {result.Verify.TotalSeconds:F1} s | {result.Events / Math.Max(result.Verify.TotalSeconds, 0.001):N0} | {result.Transfers / Math.Max(result.Verify.TotalSeconds, 0.001):N0} | {result.Verify.TotalSeconds / result.Transfers * 1_000_000:F1} s | |");
        text.AppendLine();
        text.Append(result.VerifiedEqual ? "Verify: no differences." : "Verify: DIFFERENCES (a bug: the replayed store is not the log).");
        return text.ToString();
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
