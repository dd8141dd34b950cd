using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Cards.Authorisation;

/// <summary>
/// Deterministic ids: an authorisation is named by acquirer, RRN and STAN, and every ledger
/// transfer the processor makes for it is derived from that name, so a retry of any step (by the
/// scheme, by a restart, by the stand-in replayer) reuses the same ledger idempotency key.
/// </summary>
internal static class CardKeys
{
    public static string Authorisation(string acquirer, string rrn, int stan) =>
        string.Create(CultureInfo.InvariantCulture, $"{acquirer}:{rrn}:{stan:D6}");

    public static UInt128 Hold(string key) => Derive("hold", key);

    public static UInt128 Void(string key) => Derive("void", key);

    public static UInt128 Post(string presentmentId) => Derive("post", presentmentId);

    public static UInt128 Difference(string presentmentId) => Derive("difference", presentmentId);

    public static UInt128 ForcePost(string presentmentId) => Derive("force", presentmentId);

    public static UInt128 Expire(string key) => Derive("expire", key);

    /// <summary>Six digits for field 38, from the hold id: the same authorisation always gets the same code.</summary>
    public static string ApprovalCode(UInt128 holdId) =>
        ((ulong)(holdId % 1_000_000)).ToString("D6", CultureInfo.InvariantCulture);

    private static UInt128 Derive(string purpose, string name)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("bulwark-cards|" + purpose + "|" + name), hash);
        var id = BinaryPrimitives.ReadUInt128BigEndian(hash);
        return id == UInt128.Zero ? UInt128.One : id;
    }
}
