using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Accounts.Security;

/// <summary>
/// Turns a PAN into its token: HMAC-SHA256 under the bank's tokenisation key, as lowercase hex.
/// The same PAN always gives the same token (so a card is found by its PAN), and without the key
/// a token cannot be turned back into a PAN by trying the few billion PANs of a BIN.
/// </summary>
internal sealed class CardTokeniser(TokenisationKey key)
{
    public string Tokenise(string pan)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key.Bytes, Encoding.ASCII.GetBytes(pan), mac);
        return Convert.ToHexStringLower(mac);
    }
}
