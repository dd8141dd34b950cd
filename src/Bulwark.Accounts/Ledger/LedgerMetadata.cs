using System.Text;

namespace Bulwark.Accounts.Ledger;

/// <summary>Metadata values as the ledger accepts them.</summary>
internal static class LedgerMetadata
{
    /// <summary>
    /// The value, shortened on a character boundary to at most
    /// <see cref="AccountsLimits.LedgerMetadataValueBytesMax"/> UTF-8 bytes. A display name that is cut
    /// short is better than a payment refused because the payee's name is long.
    /// </summary>
    public static string Value(string value)
    {
        if (Encoding.UTF8.GetByteCount(value) <= AccountsLimits.LedgerMetadataValueBytesMax)
        {
            return value;
        }
        var bytes = 0;
        var length = 0;
        foreach (var rune in value.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > AccountsLimits.LedgerMetadataValueBytesMax)
            {
                break;
            }
            bytes += rune.Utf8SequenceLength;
            length += rune.Utf16SequenceLength;
        }
        return value[..length];
    }
}
