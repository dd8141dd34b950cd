using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cards.Authorisation;

/// <summary>
/// Deterministic ids: an authorisation is named by acquirer, RRN and STAN, and every ledger
/// transfer the processor makes for it is derived from that name, so a retry of any step (by the
/// scheme, by a restart, by the stand-in replayer) reuses the same ledger idempotency key.
/// Those names are guessable (an RRN is printed on receipts), so every id is put in the card
/// namespace (<see cref="IdNamespace.Card"/>, the id's top byte): no customer-chosen key can ever
/// be turned into one of them, because the accounts service puts customers' ids in another
/// namespace and the ledger refuses an id outside its caller's namespace.
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

    /// <summary>
    /// The id a presentment's transfer takes when the ledger says its derived id is already used
    /// by a transfer that is not this presentment's: derived from that id, so a file ingested again
    /// reaches the same alternative (and is answered as a duplicate).
    /// </summary>
    public static UInt128 Alternative(UInt128 taken) => Derive("alternative", taken.ToString("x32", CultureInfo.InvariantCulture));

    /// <summary>Six digits for field 38, from the hold id: the same authorisation always gets the same code.</summary>
    public static string ApprovalCode(UInt128 holdId) =>
        ((ulong)(holdId % 1_000_000)).ToString("D6", CultureInfo.InvariantCulture);

    private static UInt128 Derive(string purpose, string name)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("bulwark-cards|" + purpose + "|" + name), hash);
        // The namespace byte makes the id non-zero whatever the hash is.
        return Uint128.InNamespace(IdNamespace.Card, BinaryPrimitives.ReadUInt128BigEndian(hash));
    }
}
