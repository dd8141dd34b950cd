using System.Buffers.Binary;

namespace Bulwark.Ledger;

/// <summary>
/// Maps an account id to its partition. The hash must never change: partitions are stored with
/// every row and, in cluster mode, name the cell that owns the data. FNV-1a over the id's 16
/// big-endian bytes is stable across processes, platforms and .NET versions (unlike
/// <see cref="object.GetHashCode"/>) and spreads sequential ids evenly.
/// </summary>
public static class LedgerPartitioner
{
    private const ulong FnvOffsetBasis = 14695981039346656037;
    private const ulong FnvPrime = 1099511628211;

    public static int PartitionOf(UInt128 accountId, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, accountId);
        var hash = FnvOffsetBasis;
        foreach (var value in bytes)
        {
            hash ^= value;
            hash *= FnvPrime;
        }
        return (int)(hash % (ulong)partitionCount);
    }
}
