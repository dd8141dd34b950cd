using System.Globalization;
using Bulwark.Ledger.Protos;

namespace Bulwark.Edge.Services;

/// <summary>
/// Ledger account ids travel between services as 32 lowercase hex digits and inside the ledger's
/// contract as a proto <c>Uint128 { high, low }</c>.
/// </summary>
internal static class LedgerAccountIds
{
    public const int HexDigits = 32;

    public static UInt128 Parse(string hex)
    {
        if (hex is not { Length: HexDigits }
            || !UInt128.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id)
            || id == UInt128.Zero)
        {
            // The id came from the accounts service, not from the customer: a bad one is a bug there.
            throw new InvalidOperationException($"The accounts service gave a ledger account id that is not {HexDigits} hex digits or is zero: '{hex}'.");
        }
        return id;
    }

    public static Uint128 ToProto(UInt128 id) => new() { High = (ulong)(id >> 64), Low = (ulong)id };

    public static UInt128 FromProto(Uint128 id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ((UInt128)id.High << 64) | id.Low;
    }
}
