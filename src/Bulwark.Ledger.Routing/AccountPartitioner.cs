using System.Buffers.Binary;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Routing;

/// <summary>
/// The ledger's partition of an account id: FNV-1a over the id's 16 big-endian bytes, modulo the
/// partition count. A copy of Bulwark.Ledger's LedgerPartitioner (a client does not reference the
/// server); the routing tests check that both agree, and the hash never changes.
/// </summary>
internal static class AccountPartitioner
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

    public static int PartitionOf(Uint128? accountId, int partitionCount) => PartitionOf(Ids.Of(accountId), partitionCount);
}

internal static class Ids
{
    public static UInt128 Of(Uint128? id) => id is null ? UInt128.Zero : new UInt128(id.High, id.Low);
}
