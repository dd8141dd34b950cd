using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Cli.Operator;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Placement;
using static Bulwark.Cli.Commands.CustomersCommand;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark cells status|move</c>: the ledger's cells on a running bank — who owns which
/// partitions at which epoch, moves in progress and their step — and moving a partition to another
/// cell (docs/runbooks/ledger-cells.md). The mover keeps no state of its own: a move interrupted
/// anywhere (this command killed, a cell restarted) is finished by running the same command again.
/// </summary>
internal static class CellsCommand
{
    public static Command Create()
    {
        var command = new Command("cells", "The ledger's cells on a running bank: status, and moving a partition from one cell to another.");
        command.Subcommands.Add(CreateStatus());
        command.Subcommands.Add(CreateMove());
        command.Subcommands.Add(CreateAdd());
        command.Subcommands.Add(CreateRebalance());
        return command;
    }

    private static Command CreateStatus()
    {
        var common = CommonSymbols.Create();
        var command = new Command("status", "Show each cell's partitions, the epochs it holds them at, moves in progress and their step, and where the map and the cells disagree.");
        common.AddTo(command);
        command.Action = new OperatorAction("cells status", async (parse, session, cancellationToken) =>
        {
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var (map, cells) = await ReadAsync(bank, cancellationToken);
            var attention = Disagreements(map, cells);
            var output = session.Output;
            if (parse.GetValue(common.Json))
            {
                var json = new JsonObject
                {
                    ["clusterId"] = map.ClusterId,
                    ["mapVersion"] = map.Version,
                    ["partitions"] = map.PartitionCount,
                    ["cells"] = new JsonArray([.. cells.Select(cell => (JsonNode)new JsonObject
                    {
                        ["cell"] = cell.Key,
                        ["partitionsInMap"] = map.PartitionsOf(cell.Key).Count,
                        ["owned"] = cell.Value.Owners.Count(row => row.State == OwnerState.Owned),
                        ["paused"] = new JsonArray([.. cell.Value.Owners.Where(row => row.State == OwnerState.Moving).Select(row => (JsonNode)new JsonObject { ["partition"] = row.Partition, ["to"] = row.OwnerCell })]),
                        // Partitions it gave away: it refuses them naming the new owner (its copy is deleted after the grace period).
                        ["released"] = new JsonArray([.. cell.Value.Owners.Where(row => row.State == OwnerState.Released).Select(row => (JsonNode)new JsonObject { ["partition"] = row.Partition, ["to"] = row.OwnerCell, ["epoch"] = row.OwnerEpoch })]),
                        // Owned, refused: its store is behind the event log for them (restored from an old copy).
                        ["behindLog"] = new JsonArray([.. cell.Value.BehindLog.Select(partition => (JsonNode)partition)]),
                        ["importing"] = new JsonArray([.. cell.Value.Imports.Select(import => (JsonNode)new JsonObject
                        {
                            ["partition"] = import.Partition,
                            ["from"] = import.SourceCell,
                            ["state"] = import.State == ImportState.Verified ? "verified" : "copying",
                        })]),
                    })]),
                    ["attention"] = new JsonArray([.. attention.Select(line => (JsonNode)line)]),
                };
                await output.WriteLineAsync(json.ToJsonString(CustomerViews.JsonOptions));
                return attention.Count == 0 ? 0 : 1;
            }
            await output.WriteLineAsync(Invariant($"placement map version {map.Version}, {map.PartitionCount} partitions, cluster {map.ClusterId}"));
            await output.WriteLineAsync($"{"CELL",-8} {"PARTITIONS",10} {"OWNED",6}  MOVES");
            foreach (var (name, status) in cells)
            {
                var moves = status.Owners.Where(row => row.State == OwnerState.Moving).Select(row => Invariant($"{row.Partition}→{row.OwnerCell} paused"))
                    .Concat(status.Imports.Select(import => Invariant($"{import.Partition}←{import.SourceCell} {(import.State == ImportState.Verified ? "verified" : "copying")}")))
                    .ToArray();
                await output.WriteLineAsync(Invariant($"{name,-8} {map.PartitionsOf(name).Count,10} {status.Owners.Count(row => row.State == OwnerState.Owned),6}  {(moves.Length == 0 ? "-" : string.Join(", ", moves))}"));
            }
            foreach (var line in attention)
            {
                await output.WriteLineAsync("attention: " + line);
            }
            return attention.Count == 0 ? 0 : 1;
        });
        return command;
    }

    private static Command CreateMove()
    {
        var common = CommonSymbols.Create();
        var partition = new Argument<int>("partition") { Description = "The partition to move (0 to the partition count - 1; bulwark cells status shows who owns which)." };
        var to = new Option<string?>("--to") { Description = "The cell to move it to (a cell in the placement map)." };
        var grace = CommonOptions.PositiveInt("--grace", "Seconds the old owner keeps its copy after the flip before deleting it (default 30).", 30, 3_600);
        var command = new Command("move", "Move a partition to another cell: copy, catch up, a short pause of that partition only, verify, flip the map, delete the old copy after the grace period. Run it again to resume an interrupted move.") { partition, to, grace };
        common.AddTo(command);
        command.Action = new OperatorAction("cells move", async (parse, session, cancellationToken) =>
        {
            var target = parse.GetValue(to) ?? throw new OperatorException("--to is required: the cell to move the partition to.");
            if (!PlacementMap.IsValidCellName(target))
            {
                throw new OperatorException($"--to: '{target}' is not a cell name (1 to 32 of a-z, 0-9 and -).");
            }
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var store = bank.Placement ?? throw new OperatorException($"{bank.Description} runs its ledger without cells: there is nothing to move.");
            var output = session.Output;
            var mover = new PartitionMover(store, bank.CellAdmin, new PartitionMoveOptions { Grace = TimeSpan.FromSeconds(parse.GetValue(grace)) });
            var lastStep = "";
            var progress = new LineProgress(report =>
            {
                if (report.Step != lastStep)
                {
                    lastStep = report.Step;
                    output.WriteLine(Invariant($"{report.Step}: partition {report.Partition} {report.Source} → {report.Target}") +
                        (report.Pause is { } pause ? Invariant($" (paused {pause.TotalMilliseconds:0} ms)") : report.Rows > 0 ? Invariant($" ({report.Rows} rows)") : ""));
                }
            });
            PartitionMoveResult result;
            try
            {
                result = await mover.MoveAsync(parse.GetValue(partition), target, progress, cancellationToken);
            }
            catch (PartitionMoveException error)
            {
                throw new OperatorException(error.Message);
            }
            await output.WriteLineAsync(result.AlreadyThere
                ? Invariant($"partition {result.Partition} is already at cell {result.Target} (epoch {result.NewEpoch}); nothing to move.")
                : Invariant($"moved partition {result.Partition} from cell {result.Source} to {result.Target} at epoch {result.NewEpoch}: {result.Accounts} accounts, {result.TransferRows} transfer rows, paused {result.Pause.TotalMilliseconds:0} ms, {result.Total.TotalSeconds:0.0} s in all."));
            return 0;
        });
        return command;
    }

    private static Command CreateAdd()
    {
        var common = CommonSymbols.Create();
        var name = new Argument<string>("name") { Description = "The new cell's name: 1 to 32 of a-z, 0-9 and -." };
        var storeOption = new Option<string?>("--store") { Description = "Cluster only: where the cell keeps its ledger (recorded in the map for its ledger process). A one-process bank keeps each cell in DATA/ledger-NAME.db." };
        var command = new Command("add", "Add an empty cell to the placement map. A one-process bank starts serving it at once; in a cluster, start its ledger process (bulwark serve --service ledger --cell NAME). It owns nothing until partitions are moved to it (bulwark cells rebalance).") { name, storeOption };
        common.AddTo(command);
        command.Action = new OperatorAction("cells add", async (parse, session, cancellationToken) =>
        {
            var cell = parse.GetValue(name) ?? "";
            if (!PlacementMap.IsValidCellName(cell))
            {
                throw new OperatorException($"'{cell}' is not a cell name (1 to 32 of a-z, 0-9 and -).");
            }
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var store = bank.Placement ?? throw new OperatorException($"{bank.Description} runs its ledger without cells: it cannot take another.");
            if (bank.IsOneProcessBank && parse.GetValue(storeOption) is not null)
            {
                throw new OperatorException("--store: a one-process bank keeps each cell in DATA/ledger-NAME.db; leave --store out.");
            }
            var output = session.Output;
            for (var attempt = 0; ; attempt++)
            {
                var read = await store.ReadAsync(cancellationToken) ?? throw new OperatorException("there is no placement map yet.");
                var map = read.Map ?? throw new OperatorException($"the stored placement map cannot be used: {read.Error?.Message}");
                if (map.Cells.ContainsKey(cell))
                {
                    await output.WriteLineAsync($"cell {cell} is in the placement map already.");
                    break;
                }
                if (bank.IsOneProcessBank && map.Cells.Count >= Hosting.BankLedger.CellsMax)
                {
                    throw new OperatorException(Invariant($"a one-process bank runs at most {Hosting.BankLedger.CellsMax} cells; this one has {map.Cells.Count}."));
                }
                var info = new CellInfo(parse.GetValue(storeOption) ?? (bank.IsOneProcessBank ? $"ledger-{cell}.db" : bank.StateDirectory is { } state ? Cluster.ClusterPlacement.StoreOf(state, cell) : null));
                if ((await store.ReplaceAsync(read, map.WithCell(cell, info), cancellationToken)).Succeeded)
                {
                    await output.WriteLineAsync(Invariant($"added cell {cell} to the placement map (version {map.Version + 1})."));
                    break;
                }
                if (attempt >= 5)
                {
                    throw new OperatorException("the placement map kept changing under this command; run it again.");
                }
            }
            if (bank.StateDirectory is { } directory)
            {
                // A local cluster of cluster up: start the cell's ledger process the way up does.
                try
                {
                    await ClusterOperations.StartCellAsync(directory, cell, output, cancellationToken);
                }
                catch (Lab.Cluster.ClusterException error)
                {
                    throw new OperatorException(error.Message);
                }
                await output.WriteLineAsync($"cell {cell} is serving; it owns no partitions yet: bulwark cells rebalance moves some to it.");
                return 0;
            }
            if (!bank.IsOneProcessBank)
            {
                await output.WriteLineAsync($"start its ledger process: bulwark serve --service ledger --cell {cell}; then move partitions to it: bulwark cells rebalance");
                return 0;
            }
            // The bank opens the cell when it sees the map change: wait until it answers (bounded).
            var headers = new Grpc.Core.Metadata { { LedgerCells.CellHeader, cell } };
            for (var waited = 0; ; waited++)
            {
                try
                {
                    await bank.CellAdmin(cell).GetCellStatusAsync(new GetCellStatusRequest(), headers, cancellationToken: cancellationToken);
                    await output.WriteLineAsync($"cell {cell} is serving; it owns no partitions yet: bulwark cells rebalance moves some to it.");
                    return 0;
                }
                catch (Grpc.Core.RpcException error) when (waited < 120 && error.StatusCode is Grpc.Core.StatusCode.FailedPrecondition or Grpc.Core.StatusCode.Unavailable)
                {
                    await Task.Delay(250, cancellationToken);
                }
            }
        });
        return command;
    }

    private static Command CreateRebalance()
    {
        var common = CommonSymbols.Create();
        var grace = CommonOptions.PositiveInt("--grace", "Seconds the old owners keep their copies after the last move before deleting them (default 30).", 30, 3_600);
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the moves a rebalance would make, and make none." };
        var command = new Command("rebalance", "Spread the partitions evenly over the cells of the placement map, one verified move after another. Run it again to resume an interrupted rebalance.") { grace, dryRun };
        common.AddTo(command);
        command.Action = new OperatorAction("cells rebalance", async (parse, session, cancellationToken) =>
        {
            await using var bank = await session.ConnectAsync(common.Target(parse), cancellationToken);
            var store = bank.Placement ?? throw new OperatorException($"{bank.Description} runs its ledger without cells: there is nothing to rebalance.");
            var read = await store.ReadAsync(cancellationToken) ?? throw new OperatorException("there is no placement map yet.");
            var map = read.Map ?? throw new OperatorException($"the stored placement map cannot be used: {read.Error?.Message}");
            var plan = CellRebalancer.Plan(map);
            var output = session.Output;
            var summary = string.Join(", ", plan.GroupBy(move => (move.From, move.To)).Select(group => Invariant($"{group.Key.From} → {group.Key.To}: {group.Count()}")));
            if (plan.Count == 0)
            {
                await output.WriteLineAsync(Invariant($"the {map.Cells.Count} cells are balanced already; nothing to move."));
                return 0;
            }
            await output.WriteLineAsync(Invariant($"{plan.Count} partitions to move ({summary})."));
            if (parse.GetValue(dryRun))
            {
                return 0;
            }
            var mover = new PartitionMover(store, bank.CellAdmin, new PartitionMoveOptions { DropCopy = false });
            var done = 0;
            var progress = new LineProgress(report =>
            {
                if (report.Step == "flipped")
                {
                    done++;
                    output.WriteLine(Invariant($"moved partition {report.Partition} {report.Source} → {report.Target} [{done}/{plan.Count}]"));
                }
            });
            IReadOnlyList<PartitionMoveResult> results;
            try
            {
                results = await CellRebalancer.RunAsync(mover, plan, TimeSpan.FromSeconds(parse.GetValue(grace)), progress, cancellationToken);
            }
            catch (PartitionMoveException error)
            {
                throw new OperatorException(error.Message + Invariant($" ({done} of {plan.Count} moves done; run bulwark cells rebalance again to resume)"));
            }
            var pauses = results.Where(result => !result.AlreadyThere).Select(result => result.Pause.TotalMilliseconds).Order().ToArray();
            await output.WriteLineAsync(Invariant($"rebalanced: {pauses.Length} partitions moved; pause per partition median {(pauses.Length == 0 ? 0 : pauses[pauses.Length / 2]):0} ms, longest {(pauses.Length == 0 ? 0 : pauses[^1]):0} ms; old copies deleted."));
            return 0;
        });
        return command;
    }

    private static async Task<(PlacementMap Map, SortedDictionary<string, CellStatus> Cells)> ReadAsync(BankConnection bank, CancellationToken cancellationToken)
    {
        var store = bank.Placement ?? throw new OperatorException($"{bank.Description} runs its ledger without cells (no placement map).");
        var read = await store.ReadAsync(cancellationToken) ?? throw new OperatorException("there is no placement map yet.");
        var map = read.Map ?? throw new OperatorException($"the stored placement map cannot be used: {read.Error?.Message}");
        var cells = new SortedDictionary<string, CellStatus>(StringComparer.Ordinal);
        foreach (var cell in map.Cells.Keys)
        {
            cells[cell] = await bank.CellAdmin(cell).GetCellStatusAsync(new GetCellStatusRequest(),
                new Grpc.Core.Metadata { { LedgerCells.CellHeader, cell } }, cancellationToken: cancellationToken);
        }
        return (map, cells);
    }

    /// <summary>Partitions whose owner in the map does not hold them at the map's epoch, and partitions owned twice.</summary>
    private static List<string> Disagreements(PlacementMap map, SortedDictionary<string, CellStatus> cells)
    {
        var lines = new List<string>();
        var owners = new Dictionary<uint, string>();
        foreach (var (name, status) in cells)
        {
            foreach (var row in status.Owners.Where(row => row.State is OwnerState.Owned or OwnerState.Moving))
            {
                if (owners.TryGetValue(row.Partition, out var other))
                {
                    lines.Add(Invariant($"partition {row.Partition} is owned by cells {other} and {name}"));
                }
                owners[row.Partition] = name;
            }
        }
        foreach (var (name, status) in cells.Where(cell => cell.Value.BehindLog.Count > 0))
        {
            lines.Add(Invariant($"cell {name} refuses {status.BehindLog.Count} partition(s) it owns because its store is behind the event log for them ({string.Join(", ", status.BehindLog.Take(8))}{(status.BehindLog.Count > 8 ? ", ..." : "")}): restored from an old copy? Rebuild the cell from the log (bulwark ledger replay, docs/runbooks/ledger-replay.md)"));
        }
        for (var partition = 0; partition < map.PartitionCount; partition++)
        {
            var cell = map.CellOf(partition);
            var row = cells.TryGetValue(cell, out var status) ? status.Owners.FirstOrDefault(owner => owner.Partition == partition) : null;
            if (row is null || row.State == OwnerState.Released || (long)row.Epoch != map.EpochOf(partition))
            {
                lines.Add(Invariant($"the map places partition {partition} on cell {cell} at epoch {map.EpochOf(partition)}, but the cell holds it {(row is null ? "not at all" : $"{row.State} at epoch {row.Epoch}")}: a move may be in progress (bulwark cells move {partition} --to {cell} finishes it)"));
            }
        }
        return lines;
    }

    private sealed class LineProgress(Action<PartitionMoveReport> report) : IProgress<PartitionMoveReport>
    {
        public void Report(PartitionMoveReport value) => report(value);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
