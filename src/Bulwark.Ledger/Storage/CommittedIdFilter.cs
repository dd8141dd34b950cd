using System.Numerics;

namespace Bulwark.Ledger.Storage;

/// <summary>
/// A Bloom filter over the ids of committed transfers, kept by a store whose lookups cost a
/// network round trip: "definitely not committed" is answered in memory (almost every new
/// transfer), "maybe" goes to the database. It has no false negatives as long as every committed
/// id was added, which holds for the one writer that owns the database (advisory lock + epoch) and
/// rebuilds the filter whenever it (re)loads. About 2 bytes per id at the default sizing
/// (16 bits per id, 4 probes: ~0.25% of new ids still take the round trip).
/// </summary>
internal sealed class CommittedIdFilter
{
    private const int BitsPerId = 16;
    private const int Probes = 4;
    private readonly ulong[] _bits;
    private readonly ulong _mask;

    public CommittedIdFilter(long expectedIds)
    {
        var bits = BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1L << 20, expectedIds * BitsPerId));
        _bits = new ulong[bits / 64];
        _mask = bits - 1;
        Capacity = (long)(bits / BitsPerId);
    }

    /// <summary>Ids it holds before its false-positive rate degrades; past this the owner rebuilds it larger.</summary>
    public long Capacity { get; }

    public long Count { get; private set; }

    public void Add(UInt128 id)
    {
        var (h1, h2) = Hash(id);
        for (var i = 0; i < Probes; i++)
        {
            var bit = (h1 + ((ulong)i * h2)) & _mask;
            _bits[bit >> 6] |= 1UL << (int)(bit & 63);
        }
        Count++;
    }

    /// <summary>False: certainly never added. True: perhaps added.</summary>
    public bool MayContain(UInt128 id)
    {
        var (h1, h2) = Hash(id);
        for (var i = 0; i < Probes; i++)
        {
            var bit = (h1 + ((ulong)i * h2)) & _mask;
            if ((_bits[bit >> 6] & (1UL << (int)(bit & 63))) == 0)
            {
                return false;
            }
        }
        return true;
    }

    private static (ulong, ulong) Hash(UInt128 id)
    {
        var h1 = Mix((ulong)id ^ Mix((ulong)(id >> 64)));
        var h2 = Mix(h1 + 0x9E3779B97F4A7C15UL) | 1;
        return (h1, h2);
    }

    // SplitMix64's finaliser: every input bit affects every output bit.
    private static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
