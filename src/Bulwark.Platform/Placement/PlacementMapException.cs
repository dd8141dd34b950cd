namespace Bulwark.Platform.Placement;

/// <summary>Why a stored placement map cannot be used. Also the <c>reason</c> label of the placement metrics.</summary>
public enum PlacementMapUnusableReason
{
    /// <summary>Not JSON, a duplicate key, an unknown field, a value of the wrong type, or too large.</summary>
    Malformed,

    /// <summary>Written by a newer Bulwark (a format version above <see cref="PlacementMap.FormatVersionCurrent"/>): the last good map is kept.</summary>
    NewerFormat,

    /// <summary>Well-formed, but not a map: partitions not covering 0..N-1, an unknown cell, an epoch below 1, a bad name.</summary>
    Invalid,

    /// <summary>A map of another bank (its cluster id differs from the one this process started with).</summary>
    OtherCluster,

    /// <summary>A version below the map already in use: an old map put back; the newer one is kept.</summary>
    OlderVersion,
}

/// <summary>A placement map that cannot be used, with the field at fault.</summary>
public sealed class PlacementMapException(PlacementMapUnusableReason reason, string field, string message)
    : Exception($"placement map: {field}: {message}")
{
    public PlacementMapUnusableReason Reason { get; } = reason;

    /// <summary>The JSON path of the field at fault (e.g. <c>partitions[3].epoch</c>).</summary>
    public string Field { get; } = field;
}
