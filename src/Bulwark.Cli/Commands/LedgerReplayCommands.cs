using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Cli.Cluster;
using Bulwark.Cli.Hosting;
using Bulwark.EventLog;
using Bulwark.EventLog.Files;
using Bulwark.EventLog.JetStream;
using Bulwark.Lab.Cluster;
using Bulwark.Ledger;
using Bulwark.Ledger.Events;
using Bulwark.Ledger.Storage;
using Bulwark.Platform.Placement;
using Bulwark.Storage.Postgres;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark ledger replay</c> and <c>bulwark ledger verify</c> (docs/runbooks/ledger-replay.md):
/// a cell rebuilt from the event log alone, and a cell's store (or a replayed copy) compared with
/// the log. The bank is found as <c>ledger check</c> finds it: a one-process bank's data directory
/// (its placement map file and its file log in DATA/events), or a local cluster's state directory
/// (the map from etcd while it runs, else the one kept beside it; the log on its NATS servers).
/// Exit codes: 0 done (verify: no difference), 1 verify found differences, 2 refused or failed.
/// </summary>
internal static class LedgerReplayCommands
{
    private sealed record Symbols(Option<string> Cell, Option<DirectoryInfo> Data, Option<DirectoryInfo?> State, Option<string?> EventLog)
    {
        public static Symbols Create() => new(
            new Option<string>("--cell") { Description = "The ledger cell (a cell of the placement map, e.g. a).", Required = true },
            CommonOptions.Data(),
            new Option<DirectoryInfo?>("--state") { Description = "A local cluster's state directory (bulwark cluster up): its placement map (from etcd while it runs) and its NATS servers' event log." },
            new Option<string?>("--event-log") { Description = "Read the event log here instead: a file log's directory, or nats://host:port[,nats://...] (stream of bank 'bulwark')." });

        public void AddTo(Command command)
        {
            command.Options.Add(Cell);
            command.Options.Add(Data);
            command.Options.Add(State);
            command.Options.Add(EventLog);
        }
    }

    /// <summary>Where the cell is: its placement per the map, its log, and its own store.</summary>
    private sealed record CellTarget(LedgerReplayPlan Plan, string LogDescription, Func<CancellationToken, Task<IEventLog>> OpenLog, LedgerCellSource? Store);

    public static Command Replay()
    {
        var symbols = Symbols.Create();
        var into = new Option<string>("--into") { Description = "The store to rebuild the cell in: a SQLite file (new or empty), or postgres://user[:password]@host[:port]/database (an empty database). " + CommonOptions.StoreHelp, Required = true };
        var command = new Command("replay", "Rebuild a ledger cell's store from the event log alone: the partitions the placement map gives it, each in sequence order. Refuses a store that holds data; run again after a stop and it continues.");
        symbols.AddTo(command);
        command.Options.Add(into);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var cell = parse.GetValue(symbols.Cell)!;
            var (target, error) = await FindAsync(parse, symbols, null, cancellationToken);
            if (target is null)
            {
                return Fail("replay", error!);
            }
            var (store, storeName) = OpenStore(parse.GetValue(into)!);
            if (store is null)
            {
                return Fail("replay", storeName);
            }
            using (store)
            {
                await Console.Error.WriteLineAsync(Invariant($"replaying cell '{cell}' ({target.Plan.Partitions.Count} partitions) from {target.LogDescription} into {storeName}"));
                try
                {
                    await using var log = await target.OpenLog(cancellationToken);
                    var progress = new ProgressLine(Console.Error);
                    var result = await new LedgerReplayer(log, store, target.Plan, progress).RunAsync(cancellationToken);
                    progress.End();
                    var seconds = Math.Max(result.Elapsed.TotalSeconds, 0.001);
                    await Console.Out.WriteLineAsync(Invariant(
                        $"replayed cell '{cell}': {result.Partitions} partitions, {result.Events} events ({result.Events / seconds:F0}/s{(result.EventsResumed > 0 ? $", {result.EventsResumed} applied by the run before" : "")}), {result.TransferRows} transfer rows, {result.Accounts} accounts in {result.Elapsed.TotalSeconds:F1} s; it owns its partitions at the map's epochs and its events continue after the log's (outbox at {result.OutboxWatermark})"));
                    return 0;
                }
                catch (Exception exception) when (IsOperatingError(exception))
                {
                    await Console.Error.WriteLineAsync();
                    // A refusal says what to do itself; an operating error (the log unreachable, the store failing) is retried by running again.
                    return Fail("replay", exception is LedgerReplayException
                        ? exception.Message
                        : Explain(exception) + " No partition was claimed; run again once the cause is fixed (the replay continues where it stopped).");
                }
            }
        });
        return command;
    }

    public static Command Verify()
    {
        var symbols = Symbols.Create();
        var store = CommonOptions.PostgresStore("The bank's ledger is on PostgreSQL: postgres://user[:password]@host[:port]/database of cell a (the others' databases are found from it). " + CommonOptions.StoreHelp);
        var against = new Option<string?>("--against") { Description = "Also compare this replayed copy with the log: a SQLite file or a postgres:// URL." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("verify", "Compare a ledger cell's store with the event log, partition by partition: every transfer row once with the same body, every account's balances, every owed credit leg; and a replayed copy with --against. Exit 1 on any difference.");
        symbols.AddTo(command);
        command.Options.Add(store);
        command.Options.Add(against);
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (target, error) = await FindAsync(parse, symbols, parse.GetValue(store), cancellationToken);
            if (target is null)
            {
                return Fail("verify", error!);
            }
            var sources = new List<LedgerCellSource>();
            if (target.Store is { } own)
            {
                sources.Add(own);
            }
            if (parse.GetValue(against) is { } copy)
            {
                var (source, problem) = Source(copy);
                if (source is null)
                {
                    return Fail("verify", problem);
                }
                sources.Add(source);
            }
            try
            {
                await using var log = await target.OpenLog(cancellationToken);
                var partitions = target.Plan.Partitions.Select(partition => partition.Partition).ToArray();
                var expected = await LedgerCellRows.ReadLogAsync(log, partitions, target.Plan.PartitionCount, cancellationToken);
                var reports = sources.Select(source => LedgerLogComparison.Compare(expected, LedgerCellRows.ReadStore(source, partitions), target.Plan.Partitions)).ToList();
                await Console.Out.WriteLineAsync(parse.GetValue(json) ? Json(target.Plan.Cell, reports) : Table(target.Plan.Cell, reports));
                return reports.All(report => report.Ok) ? 0 : 1;
            }
            catch (Exception exception) when (IsOperatingError(exception))
            {
                return Fail("verify", Explain(exception));
            }
        });
        return command;
    }

    private static bool IsOperatingError(Exception exception) =>
        exception is LedgerReplayException or EventLogException or InvalidOperationException or IOException
            or Microsoft.Data.Sqlite.SqliteException or Npgsql.NpgsqlException or InvalidDataException;

    private static string Explain(Exception exception) => exception switch
    {
        EventLogException log => $"the event log: {log.Message}{(log.Partition is { } partition ? Invariant($" (partition {partition}{(log.Sequence is { } sequence ? $" sequence {sequence}" : "")}{(log.Location is { } location ? $", at {location}" : "")})") : "")}.",
        _ => exception.Message,
    };

    private static int Fail(string command, string message)
    {
        Console.Error.WriteLine($"bulwark ledger {command}: {message}");
        return 2;
    }

    /// <summary>A store to write, from a SQLite path or a postgres:// URL; null and the reason when the URL is malformed.</summary>
    private static (ILedgerStore? Store, string Name) OpenStore(string text)
    {
        var (source, problem) = Source(text);
        if (source is null)
        {
            return (null, problem);
        }
        return source.SqlitePath is { } path
            ? (new SqliteLedgerStore(path), path)
            : (new PostgresLedgerStore(source.PostgresConnectionString!), PostgresConnections.Describe(source.PostgresConnectionString!));
    }

    private static (LedgerCellSource? Source, string Problem) Source(string text)
    {
        if (!text.StartsWith("postgres://", StringComparison.Ordinal) && !text.StartsWith("postgresql://", StringComparison.Ordinal))
        {
            return (LedgerCellSource.Sqlite(Path.GetFullPath(text)), "");
        }
        try
        {
            return (LedgerCellSource.Postgres(PostgresConnections.ConnectionStringFromUrl(text)), "");
        }
        catch (FormatException error)
        {
            return (null, $"{PostgresConnections.Redact(text)}: {error.Message}");
        }
    }

    /// <summary>The cell's placement, log and store, from a one-process bank's data directory or a local cluster's state directory.</summary>
    private static async Task<(CellTarget? Target, string? Error)> FindAsync(ParseResult parse, Symbols symbols, string? storeUrl, CancellationToken cancellationToken)
    {
        var cell = parse.GetValue(symbols.Cell)!;
        var (bank, error) = await LocateAsync(parse.GetValue(symbols.Data)?.FullName, parse.GetValue(symbols.State)?.FullName, parse.GetValue(symbols.EventLog), storeUrl, cancellationToken);
        if (bank is null)
        {
            return (null, error);
        }
        var map = bank.Map;
        if (!map.Cells.ContainsKey(cell))
        {
            return (null, $"the placement map has no cell '{cell}' (cells: {string.Join(", ", map.Cells.Keys.Order(StringComparer.Ordinal))}).");
        }
        var plan = new LedgerReplayPlan(cell, map.ClusterId, map.PartitionCount,
            map.PartitionsOf(cell).Select(partition => new ReplayPartition(partition, map.EpochOf(partition))).ToArray());
        return (new CellTarget(plan, bank.LogDescription, bank.OpenLog, bank.StoreOf(cell)), null);
    }

    /// <summary>A bank's ledger as replay, verify and reconcile see it: its placement map, each cell's store, and its event log.</summary>
    internal sealed record LedgerBank(PlacementMap Map, Func<string, LedgerCellSource> StoreOf, string LogDescription, Func<CancellationToken, Task<IEventLog>> OpenLog)
    {
        /// <summary>
        /// Opens the log to append (reconcile --repair): JetStream as for reading; a file log as its
        /// writer, which a running bank holds (then <see cref="EventLogError.Locked"/>). Null: reading only.
        /// </summary>
        public Func<CancellationToken, Task<IEventLog>>? OpenWritableLog { get; init; }
    }

    /// <summary>
    /// Finds a bank's ledger: a one-process bank's data directory, or a cluster's state directory
    /// (the map from etcd while it runs); <paramref name="eventLog"/> and <paramref name="storeUrl"/>
    /// override where the log and the stores are. A cell's store need not exist (it may be the one lost).
    /// </summary>
    internal static async Task<(LedgerBank? Bank, string? Error)> LocateAsync(string? dataDirectory, string? stateDirectory, string? eventLog, string? storeUrl, CancellationToken cancellationToken)
    {
        PlacementMap? map;
        string? logText;
        Func<string, LedgerCellSource> storeOf;
        var postgres = storeUrl is null ? null : PostgresConnections.ConnectionStringFromUrl(storeUrl);
        if (stateDirectory is not null)
        {
            var directory = Path.GetFullPath(stateDirectory);
            var state = ClusterState.Load(directory);
            try
            {
                if (state is not null && (await ClusterPlacement.KeepAsync(directory, state, cancellationToken)).Unanswered is { } unanswered)
                {
                    // While the cluster runs, etcd's map is the truth (a move changes it there).
                    await ClusterPlacement.WarnKeptMapUsedAsync(directory, unanswered);
                }
                map = await ClusterPlacement.ReadKeptAsync(directory, null, cancellationToken);
            }
            catch (ClusterException error)
            {
                return (null, error.Message);
            }
            if (map is null)
            {
                return (null, $"no cluster with cells in {directory} (no {ClusterPlacement.FileName}).");
            }
            var clusterPostgres = postgres ?? (state is { OnPostgres: true, StoreUrl: { } url } ? PostgresConnections.ConnectionStringFromUrl(url) : null);
            var paths = ClusterPlacement.LedgerPaths(directory);
            storeOf = name => clusterPostgres is not null
                ? LedgerCellSource.Postgres(LedgerCellStores.PostgresConnectionString(clusterPostgres, name))
                : LedgerCellSource.Sqlite(paths.LedgerCell(name));
            logText = eventLog ?? state?.EventLogAddress;
            if (logText is null)
            {
                return (null, $"the cluster in {directory} has no NATS servers recorded: pass --event-log nats://host:port.");
            }
        }
        else
        {
            var paths = new BankPaths(dataDirectory ?? throw new ArgumentException("A data or a state directory is needed.", nameof(dataDirectory)));
            try
            {
                map = BankLedger.ReadMap(paths);
            }
            catch (PlacementMapException error)
            {
                return (null, $"the placement map {paths.Placement} cannot be used: {error.Message}");
            }
            storeOf = name => postgres is not null ? LedgerCellSource.Postgres(LedgerCellStores.PostgresConnectionString(postgres, name)) : LedgerCellSource.Sqlite(paths.LedgerCell(name));
            logText = eventLog ?? paths.Events;
        }
        if (map is null)
        {
            return (null, "the bank has no placement map (not started yet, or from before cells): there is no cell to replay.");
        }
        var (open, description, problem) = LogOpener(logText);
        return open is null ? (null, problem) : (new LedgerBank(map, storeOf, description, open) { OpenWritableLog = WritableLogOpener(logText) }, null);
    }

    private static (Func<CancellationToken, Task<IEventLog>>? Open, string Description, string Problem) LogOpener(string text)
    {
        if (text.StartsWith("nats://", StringComparison.Ordinal) || text.Contains(',', StringComparison.Ordinal))
        {
            if (!EventLogAddress.TryParse(text, out var address, out var error))
            {
                return (null, "", $"--event-log: {error}");
            }
            var options = address!.Options(LocalNats.StreamReplicas(address.Servers.Count));
            return (async cancellationToken => await JetStreamEventLog.OpenAsync(options, cancellationToken: cancellationToken), $"the JetStream stream {options.Stream} on {address.Url}", "");
        }
        var directory = Path.GetFullPath(text);
        if (!Directory.Exists(directory))
        {
            return (null, "", $"there is no event log at {directory} (a file log's directory: DATA/events of a bank started with bulwark run).");
        }
        // A snapshot: read beside a running bank's writer, which holds the log's lock.
        return (_ => Task.FromResult<IEventLog>(FileEventLog.OpenSnapshot(directory)), $"the file log {directory}", "");
    }

    private static Func<CancellationToken, Task<IEventLog>> WritableLogOpener(string text)
    {
        if (text.StartsWith("nats://", StringComparison.Ordinal) || text.Contains(',', StringComparison.Ordinal))
        {
            return LogOpener(text).Open!;
        }
        var directory = Path.GetFullPath(text);
        return _ => Task.FromResult<IEventLog>(FileEventLog.Open(new FileEventLogOptions { Directory = directory }));
    }

    private static string Table(string cell, IReadOnlyList<LedgerComparisonReport> reports)
    {
        var text = new System.Text.StringBuilder();
        if (reports.Count == 0)
        {
            return $"cell '{cell}': nothing to compare (no store found for it; pass --against)";
        }
        foreach (var report in reports)
        {
            text.AppendLine(Invariant($"cell '{cell}': {report.Actual} compared with the {report.Expected}: {(report.Ok ? "no differences" : $"{report.DifferenceCount} difference(s)")}"));
            text.AppendLine(Invariant($"  {"PARTITION",9} {"EVENTS",8} {"LOG ROWS",9} {"STORE ROWS",10} {"LOG ACCTS",9} {"STORE ACCTS",11} {"DIFFS",6}"));
            foreach (var partition in report.Partitions.Where(partition => partition.Events > 0 || partition.ActualTransfers > 0 || partition.ActualAccounts > 0 || partition.Differences > 0))
            {
                text.AppendLine(Invariant($"  {partition.Partition,9} {partition.Events,8} {partition.ExpectedTransfers,9} {partition.ActualTransfers,10} {partition.ExpectedAccounts,9} {partition.ActualAccounts,11} {partition.Differences,6}"));
            }
            text.AppendLine(Invariant($"  {"total",9} {report.Partitions.Sum(p => p.Events),8} {report.Partitions.Sum(p => p.ExpectedTransfers),9} {report.Partitions.Sum(p => p.ActualTransfers),10} {report.Partitions.Sum(p => p.ExpectedAccounts),9} {report.Partitions.Sum(p => p.ActualAccounts),11} {report.DifferenceCount,6}"));
            foreach (var difference in report.Differences)
            {
                text.AppendLine("  - " + difference);
            }
            if (report.DifferenceCount > report.Differences.Count)
            {
                text.AppendLine(Invariant($"  - and {report.DifferenceCount - report.Differences.Count} more"));
            }
        }
        return text.ToString().TrimEnd();
    }

    private static string Json(string cell, IReadOnlyList<LedgerComparisonReport> reports) => new JsonObject
    {
        ["cell"] = cell,
        ["ok"] = reports.All(report => report.Ok),
        ["comparisons"] = new JsonArray([.. reports.Select(report => (JsonNode)new JsonObject
        {
            ["expected"] = report.Expected,
            ["actual"] = report.Actual,
            ["ok"] = report.Ok,
            ["differenceCount"] = report.DifferenceCount,
            ["transferRows"] = report.TransferRows,
            ["partitions"] = new JsonArray([.. report.Partitions.Select(partition => (JsonNode)new JsonObject
            {
                ["partition"] = partition.Partition,
                ["events"] = partition.Events,
                ["expectedTransfers"] = partition.ExpectedTransfers,
                ["actualTransfers"] = partition.ActualTransfers,
                ["expectedAccounts"] = partition.ExpectedAccounts,
                ["actualAccounts"] = partition.ActualAccounts,
                ["differences"] = partition.Differences,
            })]),
            ["differences"] = new JsonArray([.. report.Differences.Select(difference => (JsonNode)new JsonObject
            {
                ["partition"] = difference.Partition,
                ["kind"] = difference.Kind.ToString().ToLowerInvariant(),
                ["row"] = difference.Row,
                ["detail"] = difference.Detail,
            })]),
        })]),
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>A progress bar on stderr, redrawn at most every 200 ms (and at the end).</summary>
    private sealed class ProgressLine(TextWriter writer) : IProgress<LedgerReplayProgress>
    {
        private const int RedrawMillisecondsMin = 200;
        private const int BarWidth = 30;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _drawnAt = -RedrawMillisecondsMin;
        private bool _drawn;

        public void Report(LedgerReplayProgress value)
        {
            if (_clock.ElapsedMilliseconds - _drawnAt < RedrawMillisecondsMin && value.EventsApplied < value.EventsTotal)
            {
                return;
            }
            _drawnAt = _clock.ElapsedMilliseconds;
            var share = value.EventsTotal == 0 ? 1.0 : (double)value.EventsApplied / value.EventsTotal;
            var filled = (int)(share * BarWidth);
            writer.Write(Invariant($"\r[{new string('#', filled)}{new string('.', BarWidth - filled)}] {share * 100,5:F1}% {value.EventsApplied}/{value.EventsTotal} events, {value.TransferRows} transfer rows, partition {value.Partition}   "));
            writer.Flush();
            _drawn = true;
        }

        public void End()
        {
            if (_drawn)
            {
                writer.WriteLine();
            }
        }
    }
}
