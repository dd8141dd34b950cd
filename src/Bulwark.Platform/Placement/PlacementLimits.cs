namespace Bulwark.Platform.Placement;

/// <summary>The placement map's limits, each with its reason.</summary>
public static class PlacementLimits
{
    /// <summary>Cell names become service names (<c>ledger-&lt;cell&gt;</c>) and metric labels: short.</summary>
    public const int CellNameLengthMax = 32;

    /// <summary>The ledger's own maximum partition count (Bulwark.Ledger LedgerLimits.PartitionCountMax).</summary>
    public const int PartitionCountMax = 65_536;

    /// <summary>Far beyond any real bank; a bound so that a damaged map cannot make a reader allocate without end.</summary>
    public const int CellsMax = 1024;

    public const int ClusterIdLengthMax = 128;

    public const int StoreDescriptionLengthMax = 1024;

    /// <summary>
    /// An encoded map is read whole; etcd refuses values past 1.5 MiB by default. 256 partitions
    /// in a handful of cells take well under a kilobyte (runs of partitions are written as ranges).
    /// </summary>
    public const int EncodedBytesMax = 1024 * 1024;
}
