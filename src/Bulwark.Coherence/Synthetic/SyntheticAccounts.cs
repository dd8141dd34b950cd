using System.Buffers.Binary;

namespace Bulwark.Coherence.Synthetic;

/// <summary>
/// The coherence checker's own ledger accounts. Every partition has two: a funding account (the
/// bank's money for checking, code <see cref="FundingCode"/>) and a probe account (code
/// <see cref="ProbeCode"/>) that each check pays one minor unit into. Both live in the partition
/// they check, so a check's transfer is whole inside one cell: acknowledged means readable at once,
/// with no credit leg still on its way from another cell. Debit and credit of every transfer are
/// synthetic accounts, so the checker's money nets to zero inside the ledger's zero-sum invariant.
/// No customer record ever names them: the accounts service, the app API and <c>bulwark customers</c>
/// do not know they exist.
/// </summary>
public static class SyntheticAccounts
{
    /// <summary>The ledger code of a partition's synthetic probe account.</summary>
    public const uint ProbeCode = 900;

    /// <summary>The ledger code of a partition's synthetic funding account (the bank's money for checks).</summary>
    public const uint FundingCode = 901;

    /// <summary>The ledger code of a check's transfer.</summary>
    public const uint TransferCode = 900;

    public const string Currency = "GBP";

    /// <summary>
    /// The top 64 bits of every synthetic account id: "Bulwark" and 0xC0 (coherence). The demo's
    /// bank accounts use "Bulwark" and 0x00; customers' ids are random, and one of them meeting this
    /// prefix is a chance of one in 2^64.
    /// </summary>
    public const ulong AccountIdHigh = 0x42_75_6C_77_61_72_6B_C0UL;

    /// <summary>The top 64 bits below a check transfer's namespace byte: "coheren" marks the checker's transfer ids.</summary>
    public const ulong TransferIdMarker = 0x00_63_6F_68_65_72_65_6EUL;

    private const ulong ProbeKind = 1UL << 56;
    private const ulong FundingKind = 2UL << 56;

    /// <summary>True when <paramref name="accountId"/> is one of the checker's accounts (of any partition).</summary>
    public static bool IsSynthetic(UInt128 accountId) => (ulong)(accountId >> 64) == AccountIdHigh;

    /// <summary>The probe account of <paramref name="partition"/> (of <paramref name="partitionCount"/>).</summary>
    public static UInt128 Probe(int partition, int partitionCount) => FirstIn(ProbeKind, partition, partitionCount);

    /// <summary>The funding account of <paramref name="partition"/> (of <paramref name="partitionCount"/>).</summary>
    public static UInt128 Funding(int partition, int partitionCount) => FirstIn(FundingKind, partition, partitionCount);

    /// <summary>
    /// The smallest id of the kind whose partition is <paramref name="partition"/>: found by trying
    /// ids in order, about <paramref name="partitionCount"/> of them, bounded by
    /// <see cref="CoherenceLimits.AccountIdSearchMax"/> (never reached: FNV-1a spreads consecutive ids).
    /// </summary>
    private static UInt128 FirstIn(ulong kind, int partition, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, partitionCount);
        for (ulong counter = 1; counter <= CoherenceLimits.AccountIdSearchMax; counter++)
        {
            var id = new UInt128(AccountIdHigh, kind | counter);
            if (PartitionOf(id, partitionCount) == partition)
            {
                return id;
            }
        }
        throw new InvalidOperationException($"No synthetic account id in partition {partition} of {partitionCount} among the first {CoherenceLimits.AccountIdSearchMax:N0}.");
    }

    /// <summary>
    /// The ledger's partition of an account id: FNV-1a over the id's 16 big-endian bytes, modulo the
    /// partition count. A copy of Bulwark.Ledger's LedgerPartitioner (a client does not reference the
    /// server, as the router's AccountPartitioner); the coherence tests check that both agree.
    /// </summary>
    public static int PartitionOf(UInt128 accountId, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        const ulong FnvOffsetBasis = 14695981039346656037;
        const ulong FnvPrime = 1099511628211;
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
