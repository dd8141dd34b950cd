using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Support.Storage;

/// <summary>
/// The audit log's hash chain: each entry's hash is SHA-256 over a version label, its sequence,
/// time, every text field (each length-prefixed, so no two different entries encode alike) and
/// the previous entry's hash. Changing, removing or inserting an entry breaks the link of the
/// entry after it, unless every later hash is recomputed — which <see cref="Verify"/>'s head,
/// written down elsewhere, then shows.
/// </summary>
public static class AuditChain
{
    /// <summary>The first entry's previous hash: 64 zeros.</summary>
    public static readonly string GenesisHash = new('0', 64);

    private static readonly byte[] Label = "bulwark:audit-entry:v1\n"u8.ToArray();

    public static AuditEntryRecord Link(long sequence, string previousHash, AuditDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var entry = new AuditEntryRecord(sequence, draft.TimeUnixMs, draft.Actor, draft.Action, draft.Subject, draft.Reason,
            draft.DetailsJson, draft.SourceAddress, previousHash, "");
        return entry with { Hash = Hash(entry) };
    }

    /// <summary>The hash an entry must carry, from its content and its previous hash (its own stored hash is not read).</summary>
    public static string Hash(AuditEntryRecord entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Label);
        Span<byte> number = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(number, entry.Sequence);
        hash.AppendData(number);
        BinaryPrimitives.WriteInt64BigEndian(number, entry.TimeUnixMs);
        hash.AppendData(number);
        foreach (var field in new[] { entry.Actor, entry.Action, entry.Subject, entry.Reason, entry.DetailsJson, entry.SourceAddress, entry.PreviousHash })
        {
            var bytes = Encoding.UTF8.GetBytes(field);
            BinaryPrimitives.WriteInt64BigEndian(number, bytes.Length);
            hash.AppendData(number);
            hash.AppendData(bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Walks the whole chain from the first entry, a page at a time: the first entry whose sequence
    /// is not the next, whose previous hash is not the hash of the entry before, or whose own hash
    /// does not match its content, is the first broken link.
    /// </summary>
    public static async Task<AuditVerification> VerifyAsync(ISupportStore store, int pageEntries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        long expectedSequence = 1;
        var previousHash = GenesisHash;
        long checkedEntries = 0;
        while (true)
        {
            var page = await store.ReadAuditAsync(expectedSequence - 1, pageEntries, cancellationToken);
            foreach (var entry in page)
            {
                var problem = entry.Sequence != expectedSequence
                    ? $"entry {expectedSequence} is missing (the next entry is {entry.Sequence})"
                    : entry.PreviousHash != previousHash
                        ? $"entry {entry.Sequence}'s previous hash is not the hash of entry {entry.Sequence - 1}: an entry before it was changed, removed or inserted"
                        : Hash(entry) != entry.Hash
                            ? $"entry {entry.Sequence}'s content does not match its hash: it was changed"
                            : null;
                if (problem is not null)
                {
                    return new AuditVerification(false, checkedEntries, expectedSequence - 1, previousHash, Math.Min(entry.Sequence, expectedSequence), problem);
                }
                checkedEntries++;
                expectedSequence++;
                previousHash = entry.Hash;
            }
            if (page.Count < pageEntries)
            {
                return new AuditVerification(true, checkedEntries, expectedSequence - 1, previousHash, 0, "");
            }
        }
    }
}

/// <summary>What a walk of the chain found: intact up to the head, or the first broken entry and why.</summary>
public sealed record AuditVerification(bool Intact, long EntriesChecked, long HeadSequence, string HeadHash, long BrokenSequence, string Problem);
