using System.Globalization;
using Bulwark.Ledger.Storage;
using Bulwark.Platform.Placement;

namespace Bulwark.Ledger.Cells;

/// <summary>One thing the placement map and the cells' own ownership records disagree on.</summary>
/// <param name="Refuses">True when the map must not be used with these cells (restore and start refuse it); false for a warning.</param>
public sealed record PlacementIssue(int Partition, bool Refuses, string Message)
{
    public override string ToString() => Message;
}

/// <summary>What <see cref="PlacementConsistency.Check"/> found.</summary>
public sealed record PlacementConsistencyReport(IReadOnlyList<PlacementIssue> Issues)
{
    /// <summary>True when nothing refuses the map (warnings may remain).</summary>
    public bool Ok => !Issues.Any(issue => issue.Refuses);

    public IEnumerable<PlacementIssue> Errors => Issues.Where(issue => issue.Refuses);

    public IEnumerable<PlacementIssue> Warnings => Issues.Where(issue => !issue.Refuses);
}

/// <summary>
/// Checks a placement map against the ownership each cell's own store records
/// (docs/internals/cells.md, "Who is right about ownership"), before a bank starts on them or a
/// backup of them is written or restored. Epochs only grow, so a map older than what a cell has
/// seen is refused, never obeyed: a bank started on it would plan its next move of the partition
/// from an epoch a cell has already used. Pure: the caller reads the records.
/// <list type="bullet">
/// <item>refused: the map gives a partition at an epoch lower than one a cell recorded for it
/// (owned at, released at, imported from), unless the map's cell released it to another at the
/// very next epoch — a move whose map flip is the one step left (a warning: run the move again);</item>
/// <item>refused: a partition owned (served or paused for a move) by two cells;</item>
/// <item>refused: a cell's store that names another cell or another bank;</item>
/// <item>warned: the map places a partition on a cell that holds no ownership of it, and no cell
/// released it to that cell (the cell will refuse it: its accounts are unavailable), or on a cell
/// that owns it at an older epoch than the map's (callers naming the map's epoch are refused).</item>
/// </list>
/// A cell without a record (a store not made a cell yet: it is made one at its first start,
/// owning what the map gives it) is left out.
/// </summary>
public static class PlacementConsistency
{
    /// <summary>Checks <paramref name="map"/> against <paramref name="cells"/>: each cell of the map by name, with its store's record or null.</summary>
    public static PlacementConsistencyReport Check(PlacementMap map, IReadOnlyDictionary<string, LedgerCellRecord?> cells)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(cells);
        var issues = new List<PlacementIssue>();
        var records = new List<LedgerCellRecord>();
        foreach (var (name, record) in cells.OrderBy(cell => cell.Key, StringComparer.Ordinal))
        {
            if (record is null)
            {
                continue;
            }
            if (record.Cell != name)
            {
                issues.Add(new(-1, true, $"the store of cell {name} says it is cell {record.Cell}"));
            }
            else if (record.ClusterId.Length > 0 && record.ClusterId != map.ClusterId)
            {
                issues.Add(new(-1, true, $"cell {name} belongs to bank {record.ClusterId}, not to the placement map's bank {map.ClusterId}"));
            }
            else
            {
                records.Add(record);
            }
        }
        for (var partition = 0; partition < map.PartitionCount; partition++)
        {
            CheckPartition(map, partition, records, issues);
        }
        return new PlacementConsistencyReport(issues);
    }

    private static void CheckPartition(PlacementMap map, int partition, List<LedgerCellRecord> records, List<PlacementIssue> issues)
    {
        var cell = map.CellOf(partition);
        var epoch = map.EpochOf(partition);
        var rows = records.Select(record => (record.Cell, Row: RowOf(record, partition))).ToList();
        var owners = rows.Where(entry => entry.Row.State is OwnershipState.Owned or OwnershipState.Moving).ToList();
        if (owners.Count > 1)
        {
            issues.Add(new(partition, true, Invariant(
                $"partition {partition} is owned by two cells: {string.Join(" and ", owners.Select(owner => Invariant($"{owner.Cell} (epoch {owner.Row.Epoch}, {owner.Row.State})")))}")));
        }
        var (seen, seenBy) = HighestEpochSeen(records, partition);
        var mapCellRow = rows.FirstOrDefault(entry => entry.Cell == cell).Row;
        var mapCellKnown = records.Any(record => record.Cell == cell);
        if (seen > epoch)
        {
            if (seen == epoch + 1 && mapCellRow is { State: OwnershipState.Released } released && released.Epoch == epoch && released.OwnerEpoch == epoch + 1)
            {
                issues.Add(new(partition, false, Invariant(
                    $"partition {partition}: cell {cell} released it to cell {released.OwnerCell} at epoch {epoch + 1}, but the map still places it on {cell} at epoch {epoch}: a move whose map flip is left to do. Run the move again to finish it (docs/runbooks/ledger-cells.md).")));
                return;
            }
            issues.Add(new(partition, true, Invariant(
                $"partition {partition}: the placement map gives it to cell {cell} at epoch {epoch}, but cell {seenBy} has recorded epoch {seen}: the map is older than what the cells have seen")));
            return;
        }
        if (!mapCellKnown || owners.Count > 1)
        {
            return;
        }
        if (mapCellRow.State is OwnershipState.Owned or OwnershipState.Moving)
        {
            if (mapCellRow.Epoch < epoch)
            {
                issues.Add(new(partition, false, Invariant(
                    $"partition {partition}: the map places it on cell {cell} at epoch {epoch}, but {cell} owns it at epoch {mapCellRow.Epoch}: callers naming the map's epoch will be refused (EPOCH_AHEAD)")));
            }
            return;
        }
        if (!rows.Any(entry => entry.Row.State == OwnershipState.Released && entry.Row.OwnerCell == cell))
        {
            issues.Add(new(partition, false, Invariant(
                $"partition {partition}: the map places it on cell {cell}, which holds no ownership of it, and no cell released it to {cell}: {cell} will refuse it and its accounts are unavailable")));
        }
    }

    /// <summary>The highest epoch any cell recorded for the partition (owned or paused at, released at, importing from) and the cell that did.</summary>
    private static (long Epoch, string Cell) HighestEpochSeen(List<LedgerCellRecord> records, int partition)
    {
        var highest = (Epoch: 0L, Cell: "");
        foreach (var record in records)
        {
            var row = RowOf(record, partition);
            // A pause names the epoch the target WILL own it at: not seen until the release records it.
            var seen = row.State switch
            {
                OwnershipState.Owned or OwnershipState.Moving => row.Epoch,
                OwnershipState.Released => Math.Max(row.Epoch, row.OwnerEpoch),
                _ => 0,
            };
            foreach (var import in record.Imports.Where(import => import.Partition == partition))
            {
                seen = Math.Max(seen, import.SourceEpoch);
            }
            if (seen > highest.Epoch)
            {
                highest = (seen, record.Cell);
            }
        }
        return highest;
    }

    private static PartitionOwnership RowOf(LedgerCellRecord record, int partition) =>
        record.Ownership.FirstOrDefault(row => row.Partition == partition) is { State: not OwnershipState.None } row
            ? row
            : new PartitionOwnership(partition, 0, OwnershipState.None, "", 0);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
