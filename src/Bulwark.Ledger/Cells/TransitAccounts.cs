using System.Collections.Concurrent;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Cells;

/// <summary>
/// The ledger's own accounts through which transfers between partitions pass: one per partition
/// and currency, in that partition (docs/internals/cells.md). Their ids carry a reserved top 64 bits
/// ("\xFFTRANSIT"), which no client may use for an account (a random id has them with odds of
/// 2^-64; reserving a whole byte would refuse one random id in 256), and are found by a
/// deterministic search so that the partitioner (a hash that never changes) places each in its
/// own partition.
/// </summary>
public static class TransitAccounts
{
    /// <summary>The chart-of-accounts code of transit accounts.</summary>
    public const uint Code = 0xFFFF_0001;

    // "\xFFTRANSIT" in the top 64 bits; the currency and a counter in the low 64.
    private const ulong Tag = 0xFF54_5241_4E53_4954;

    private static readonly ConcurrentDictionary<(int Partition, string Currency, int Count), UInt128> Ids = new();

    /// <summary>Account ids with the transit tag are the ledger's; CreateAccounts refuses them.</summary>
    public static bool IsReserved(UInt128 accountId) => IsTransit(accountId);

    public static bool IsTransit(UInt128 accountId) => (ulong)(accountId >> 64) == Tag;

    /// <summary>The transit account of <paramref name="partition"/> for <paramref name="currency"/>.</summary>
    public static UInt128 IdOf(int partition, string currency, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, partitionCount);
        ArgumentException.ThrowIfNullOrWhiteSpace(currency);
        return Ids.GetOrAdd((partition, currency, partitionCount), static key => Search(key.Partition, key.Currency, key.Count));
    }

    private static UInt128 Search(int partition, string currency, int partitionCount)
    {
        ulong currencyBits = 0;
        foreach (var character in currency)
        {
            currencyBits = (currencyBits << 8) | (byte)character;
        }
        // The hash spreads ids evenly, so about partitionCount tries find one; the bound is far beyond.
        for (ulong counter = 0; counter < (ulong)partitionCount * 1_000; counter++)
        {
            var id = ((UInt128)Tag << 64) | (currencyBits << 32) | counter;
            if (LedgerPartitioner.PartitionOf(id, partitionCount) == partition)
            {
                return id;
            }
        }
        throw new InvalidOperationException($"No transit account id found for partition {partition} of {partitionCount}.");
    }

    /// <summary>A new transit account: no limit, so transit can always take and give.</summary>
    public static LedgerAccount NewAccount(UInt128 id, string currency, long createdAtUnixMs) => new()
    {
        Id = id,
        Currency = currency,
        Flags = AccountFlags.None,
        OverdraftLimit = 0,
        Code = Code,
        CreatedAtUnixMs = createdAtUnixMs,
    };
}
