using Bulwark.Platform.Placement;

namespace Bulwark.Ledger.Cells;

/// <summary>One partition to move for a rebalance.</summary>
public readonly record struct PlannedMove(int Partition, string From, string To);

/// <summary>
/// Spreads partitions evenly over the cells of the placement map (<c>bulwark cells rebalance</c>):
/// each cell ends with the partition count divided by the cell count, the first cells in name
/// order one more while partitions remain. The plan moves the fewest partitions that get there —
/// from the cells with too many, highest-numbered first, to the cells with too few — and the moves
/// run one after another through <see cref="PartitionMover"/>, so a rebalance stopped anywhere is
/// resumed by running it again (the plan is made from the map as it is then).
/// </summary>
public static class CellRebalancer
{
    public static IReadOnlyList<PlannedMove> Plan(PlacementMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var cells = map.Cells.Keys.Order(StringComparer.Ordinal).ToArray();
        var share = map.PartitionCount / cells.Length;
        var extra = map.PartitionCount % cells.Length;
        var wanted = cells.Select((cell, index) => (Cell: cell, Count: share + (index < extra ? 1 : 0))).ToDictionary(pair => pair.Cell, pair => pair.Count, StringComparer.Ordinal);
        var surplus = new Queue<(int Partition, string From)>();
        foreach (var cell in cells)
        {
            var owned = map.PartitionsOf(cell);
            foreach (var partition in owned.OrderDescending().Take(Math.Max(0, owned.Count - wanted[cell])))
            {
                surplus.Enqueue((partition, cell));
            }
        }
        var moves = new List<PlannedMove>();
        foreach (var cell in cells)
        {
            for (var missing = wanted[cell] - map.PartitionsOf(cell).Count; missing > 0 && surplus.Count > 0; missing--)
            {
                var (partition, from) = surplus.Dequeue();
                moves.Add(new PlannedMove(partition, from, cell));
            }
        }
        return moves;
    }

    /// <summary>Runs the plan's moves one after another, then drops every old copy after one grace period.</summary>
    public static async Task<IReadOnlyList<PartitionMoveResult>> RunAsync(PartitionMover mover, IReadOnlyList<PlannedMove> plan, TimeSpan grace,
        IProgress<PartitionMoveReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mover);
        ArgumentNullException.ThrowIfNull(plan);
        var results = new List<PartitionMoveResult>();
        foreach (var move in plan)
        {
            results.Add(await mover.MoveAsync(move.Partition, move.To, progress, cancellationToken));
        }
        if (results.Count > 0)
        {
            await Task.Delay(grace, cancellationToken);
        }
        foreach (var result in results.Where(result => !result.AlreadyThere))
        {
            await mover.DropCopyAsync(result.Source, result.Partition, cancellationToken);
        }
        return results;
    }
}
