using System.Buffers.Binary;
using System.Buffers.Text;

namespace Bulwark.Ledger;

/// <summary>
/// The opaque page cursor of ListAccountTransfers: the sequence to continue below, bound to the
/// account it was issued for (a cursor replayed against another account is refused rather than
/// silently listing the wrong transfers). Layout: version byte, sequence (8 bytes), 4 bytes of the
/// account's hash; base64url.
/// </summary>
public static class LedgerCursor
{
    private const byte Version = 1;
    private const int Length = 13;

    public static string Encode(UInt128 accountId, long beforeSequence)
    {
        Span<byte> bytes = stackalloc byte[Length];
        bytes[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(bytes[1..], beforeSequence);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[9..], AccountTag(accountId));
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>The sequence to list below, or false when the cursor is not one this account was given.</summary>
    public static bool TryDecode(string cursor, UInt128 accountId, out long beforeSequence)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        beforeSequence = 0;
        Span<byte> bytes = stackalloc byte[Length];
        if (cursor.Length > 32 || !Base64Url.IsValid(cursor) || !Base64Url.TryDecodeFromChars(cursor, bytes, out var written) || written != Length)
        {
            return false;
        }
        if (bytes[0] != Version || BinaryPrimitives.ReadUInt32BigEndian(bytes[9..]) != AccountTag(accountId))
        {
            return false;
        }
        beforeSequence = BinaryPrimitives.ReadInt64BigEndian(bytes[1..]);
        return beforeSequence > 0;
    }

    private static uint AccountTag(UInt128 accountId) =>
        (uint)LedgerPartitioner.PartitionOf(accountId, int.MaxValue);
}
