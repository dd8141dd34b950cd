using System.Buffers.Binary;
using System.Buffers.Text;
using System.Text;
using Bulwark.Feed.Ledger;
using Grpc.Core;

namespace Bulwark.Feed.Items;

/// <summary>
/// The feed's opaque cursor: a version prefix, then base64url of the ledger account id and the
/// ledger's own cursor. Binding the account in means a cursor from one account's feed is refused
/// on another's instead of silently paging the wrong list.
/// </summary>
internal static class FeedCursor
{
    private const string Prefix = "f1.";
    private const int AccountIdBytes = 16;

    public static string Encode(UInt128 accountId, string ledgerCursor)
    {
        var cursorBytes = Encoding.UTF8.GetBytes(ledgerCursor);
        var payload = new byte[AccountIdBytes + cursorBytes.Length];
        BinaryPrimitives.WriteUInt128BigEndian(payload, accountId);
        cursorBytes.CopyTo(payload, AccountIdBytes);
        return Prefix + Base64Url.EncodeToString(payload);
    }

    /// <summary>The ledger cursor inside, or INVALID_ARGUMENT naming "cursor".</summary>
    public static string Decode(string cursor, UInt128 accountId)
    {
        if (cursor.Length > FeedLimits.CursorLengthMax || !cursor.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw NotOurs();
        }
        byte[] payload;
        try
        {
            payload = Base64Url.DecodeFromChars(cursor.AsSpan(Prefix.Length));
        }
        catch (FormatException)
        {
            throw NotOurs();
        }
        if (payload.Length <= AccountIdBytes)
        {
            throw NotOurs();
        }
        if (BinaryPrimitives.ReadUInt128BigEndian(payload) != accountId)
        {
            throw FeedErrors.Invalid("cursor", "belongs to another account's feed");
        }
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(payload, AccountIdBytes, payload.Length - AccountIdBytes);
        }
        catch (DecoderFallbackException)
        {
            throw NotOurs();
        }
    }

    private static RpcException NotOurs() =>
        FeedErrors.Invalid("cursor", "is not a cursor this feed issued; pass next_cursor from the previous page, or nothing for the first page");
}
