namespace Bulwark.Platform.Placement;

/// <summary>What a cell's birth record says when a store of the cell asks to take its first partitions.</summary>
public enum CellBirthClaim
{
    /// <summary>No store of the cell was made before: this one is the first, and takes the partitions the first map gives the cell.</summary>
    First,

    /// <summary>A store was claimed before but never confirmed holding its identity (a start that died at birth): nothing can have been committed to it, so this store is the first.</summary>
    Unconfirmed,

    /// <summary>A store of the cell was made and confirmed before: a new store is a lost one made again, and owns nothing until a verified move or a replay gives it data (R9).</summary>
    Born,
}

/// <summary>
/// The record, kept beside the placement map and outside every ledger store, that a cell's first
/// store was made. Without it a store made again after a loss cannot tell itself from the bank's
/// first start while the map is still the first one (version 1), and would take its cell's
/// partitions empty — the 2019 failure: accounts that exist, answered "not found". A store claims
/// the birth before it takes its first partitions and confirms it once its cell identity is stored.
/// </summary>
public interface ICellBirths
{
    /// <summary>Claims the birth of <paramref name="cell"/>'s store, or says how it was claimed before.</summary>
    Task<CellBirthClaim> ClaimAsync(string cell, CancellationToken cancellationToken);

    /// <summary>Records that a store of <paramref name="cell"/> holds its cell identity (idempotent): from now on a new store of the cell owns nothing.</summary>
    Task ConfirmAsync(string cell, CancellationToken cancellationToken);
}

/// <summary>The values a birth record holds (etcd value, file entry).</summary>
public static class CellBirthRecords
{
    public const string Claimed = "claimed";

    public const string Born = "born";

    /// <summary>What a stored value means; anything but <see cref="Claimed"/> reads as <see cref="CellBirthClaim.Born"/> (the safe side: a damaged record never lets a store take data it does not hold).</summary>
    public static CellBirthClaim Read(string? value) =>
        string.Equals(value, Claimed, StringComparison.Ordinal) ? CellBirthClaim.Unconfirmed : CellBirthClaim.Born;
}
