namespace Bulwark.Ledger.Events;

/// <summary>The format of the ledger's events (<see cref="PartitionChange.FormatVersion"/>).</summary>
public static class LedgerEventFormat
{
    /// <summary>The version this code writes and the only one it reads.</summary>
    public const uint Version = 1;
}
