using System.Collections.Frozen;
using System.Globalization;

namespace Bulwark.Platform.Placement;

/// <summary>What the map records about a cell. Cells have no address here: a cell is found through discovery as <c>ledger-&lt;cell&gt;</c>.</summary>
/// <param name="Store">
/// Where the cell keeps its data, for operators (a PostgreSQL URL without its password, a SQLite
/// path); null when not recorded. Never used to connect.
/// </param>
public sealed record CellInfo(string? Store = null);

/// <summary>The owner of one partition and the epoch it owns it at (grows by one with every change of owner).</summary>
public readonly record struct PartitionPlacement(string Cell, long Epoch);

/// <summary>
/// The placement map (docs/internals/cells.md): partition -> (cell, epoch), the bank's cluster id,
/// a version that grows by one with every change, and the format version of its encoding.
/// Immutable; every instance is valid (the constructor checks, naming the field), so a consumer
/// never meets a map with a hole, an unknown cell or an epoch below 1.
/// </summary>
public sealed class PlacementMap
{
    /// <summary>The format this Bulwark writes and the newest it reads.</summary>
    public const int FormatVersionCurrent = 1;

    private readonly PartitionPlacement[] _partitions;
    private readonly FrozenDictionary<string, int[]> _partitionsOfCell;

    public PlacementMap(int formatVersion, string clusterId, long version, IReadOnlyDictionary<string, CellInfo> cells, IReadOnlyList<PartitionPlacement> partitions)
    {
        ArgumentNullException.ThrowIfNull(cells);
        ArgumentNullException.ThrowIfNull(partitions);
        if (formatVersion < 1 || formatVersion > FormatVersionCurrent)
        {
            throw new PlacementMapException(PlacementMapUnusableReason.Invalid, "formatVersion", $"format version {formatVersion} is not one this Bulwark writes (1..{FormatVersionCurrent})");
        }
        if (string.IsNullOrWhiteSpace(clusterId) || clusterId.Length > PlacementLimits.ClusterIdLengthMax)
        {
            throw new PlacementMapException(PlacementMapUnusableReason.Invalid, "clusterId", $"the cluster id must be 1..{PlacementLimits.ClusterIdLengthMax} characters");
        }
        if (version < 1)
        {
            throw new PlacementMapException(PlacementMapUnusableReason.Invalid, "version", $"version {version} is below 1");
        }
        if (partitions.Count < 1 || partitions.Count > PlacementLimits.PartitionCountMax)
        {
            throw new PlacementMapException(PlacementMapUnusableReason.Invalid, "partitionCount", $"{partitions.Count} partitions; a map has 1..{PlacementLimits.PartitionCountMax}");
        }
        if (cells.Count < 1 || cells.Count > PlacementLimits.CellsMax)
        {
            throw new PlacementMapException(PlacementMapUnusableReason.Invalid, "cells", $"{cells.Count} cells; a map has 1..{PlacementLimits.CellsMax}");
        }
        foreach (var (name, info) in cells)
        {
            CheckCellName(name, $"cells.{name}");
            if (info is null || info.Store is { Length: > PlacementLimits.StoreDescriptionLengthMax })
            {
                throw new PlacementMapException(PlacementMapUnusableReason.Invalid, $"cells.{name}.store", $"a store description is at most {PlacementLimits.StoreDescriptionLengthMax} characters");
            }
        }
        for (var partition = 0; partition < partitions.Count; partition++)
        {
            var placement = partitions[partition];
            if (placement.Cell is null || !cells.ContainsKey(placement.Cell))
            {
                throw new PlacementMapException(PlacementMapUnusableReason.Invalid, $"partitions[{partition}].cell", $"partition {partition} names cell '{placement.Cell}', which is not in cells");
            }
            if (placement.Epoch < 1)
            {
                throw new PlacementMapException(PlacementMapUnusableReason.Invalid, $"partitions[{partition}].epoch", $"partition {partition} has epoch {placement.Epoch}; epochs start at 1");
            }
        }
        FormatVersion = formatVersion;
        ClusterId = clusterId;
        Version = version;
        Cells = cells.ToFrozenDictionary(StringComparer.Ordinal);
        _partitions = [.. partitions];
        _partitionsOfCell = Cells.Keys.ToFrozenDictionary(
            cell => cell,
            cell => Enumerable.Range(0, _partitions.Length).Where(p => string.Equals(_partitions[p].Cell, cell, StringComparison.Ordinal)).ToArray(),
            StringComparer.Ordinal);
    }

    public int FormatVersion { get; }

    /// <summary>The bank's id, made when the bank was created: a map of another bank is never taken for this one.</summary>
    public string ClusterId { get; }

    /// <summary>Grows by one with every change of the map.</summary>
    public long Version { get; }

    /// <summary>The number of partitions, fixed for the life of the bank.</summary>
    public int PartitionCount => _partitions.Length;

    public IReadOnlyDictionary<string, CellInfo> Cells { get; }

    /// <summary>Every partition's owner and epoch, by partition index.</summary>
    public IReadOnlyList<PartitionPlacement> Partitions => _partitions;

    public string CellOf(int partition) => At(partition).Cell;

    public long EpochOf(int partition) => At(partition).Epoch;

    /// <summary>The partitions <paramref name="cell"/> owns, ascending; empty for a cell the map does not know.</summary>
    public IReadOnlyList<int> PartitionsOf(string cell) =>
        _partitionsOfCell.TryGetValue(cell, out var owned) ? owned : [];

    /// <summary>The map after <paramref name="partition"/> moved to <paramref name="toCell"/>: its epoch and the map's version grow by one.</summary>
    public PlacementMap WithMove(int partition, string toCell)
    {
        var current = At(partition);
        if (!Cells.ContainsKey(toCell))
        {
            throw new ArgumentException($"cell '{toCell}' is not in the map; add it first", nameof(toCell));
        }
        if (string.Equals(current.Cell, toCell, StringComparison.Ordinal))
        {
            throw new ArgumentException($"partition {partition} is already in cell '{toCell}'", nameof(toCell));
        }
        var partitions = (PartitionPlacement[])_partitions.Clone();
        partitions[partition] = new PartitionPlacement(toCell, current.Epoch + 1);
        return new PlacementMap(FormatVersion, ClusterId, Version + 1, Cells, partitions);
    }

    /// <summary>The map with one more cell (owning nothing yet); the version grows by one.</summary>
    public PlacementMap WithCell(string name, CellInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        CheckCellName(name, nameof(name));
        if (Cells.ContainsKey(name))
        {
            throw new ArgumentException($"cell '{name}' is already in the map", nameof(name));
        }
        var cells = new Dictionary<string, CellInfo>(Cells, StringComparer.Ordinal) { [name] = info };
        return new PlacementMap(FormatVersion, ClusterId, Version + 1, cells, _partitions);
    }

    /// <summary>
    /// The first map of a bank: the partitions spread over <paramref name="cellNames"/> in
    /// contiguous ranges, in the order given (the first cells take one more when the count does
    /// not divide evenly), every epoch 1, version 1.
    /// </summary>
    public static PlacementMap CreateInitial(string clusterId, int partitionCount, IReadOnlyList<string> cellNames, IReadOnlyDictionary<string, CellInfo>? cellInfo = null)
    {
        ArgumentNullException.ThrowIfNull(cellNames);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(partitionCount, PlacementLimits.PartitionCountMax);
        if (cellNames.Count == 0 || cellNames.Count > partitionCount)
        {
            throw new ArgumentException($"1..{partitionCount} cells are needed for {partitionCount} partitions, got {cellNames.Count}", nameof(cellNames));
        }
        var cells = new Dictionary<string, CellInfo>(StringComparer.Ordinal);
        foreach (var name in cellNames)
        {
            if (!cells.TryAdd(name, cellInfo?.GetValueOrDefault(name) ?? new CellInfo()))
            {
                throw new ArgumentException($"cell '{name}' is named twice", nameof(cellNames));
            }
        }
        var partitions = new PartitionPlacement[partitionCount];
        var share = partitionCount / cellNames.Count;
        var extra = partitionCount % cellNames.Count;
        var next = 0;
        for (var index = 0; index < cellNames.Count; index++)
        {
            var count = share + (index < extra ? 1 : 0);
            for (var i = 0; i < count; i++)
            {
                partitions[next++] = new PartitionPlacement(cellNames[index], 1);
            }
        }
        return new PlacementMap(FormatVersionCurrent, clusterId, 1, cells, partitions);
    }

    /// <summary>True for a usable cell name: 1..32 of [a-z0-9-], not starting or ending with '-' (it becomes part of a service name).</summary>
    public static bool IsValidCellName(string? name) =>
        name is { Length: >= 1 and <= PlacementLimits.CellNameLengthMax }
        && name[0] != '-' && name[^1] != '-'
        && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');

    /// <summary>The discovery service name a cell's ledger instances register under.</summary>
    public static string ServiceOf(string cell, string service = "ledger") => $"{service}-{cell}";

    private static void CheckCellName(string name, string field)
    {
        if (!IsValidCellName(name))
        {
            throw new PlacementMapException(PlacementMapUnusableReason.Invalid, field,
                $"cell name '{name}' is not 1..{PlacementLimits.CellNameLengthMax} of [a-z0-9-] (not starting or ending with '-')");
        }
    }

    private PartitionPlacement At(int partition)
    {
        if ((uint)partition >= (uint)_partitions.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(partition), partition, string.Create(CultureInfo.InvariantCulture, $"the map has partitions 0..{_partitions.Length - 1}"));
        }
        return _partitions[partition];
    }
}
