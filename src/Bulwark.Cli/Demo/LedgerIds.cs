using Bulwark.Ledger.Protos;

namespace Bulwark.Cli.Demo;

/// <summary>Conversions between <see cref="UInt128"/>, the ledger's wire form and 32-digit hex.</summary>
public static class LedgerIds
{
    public static Uint128 ToProto(this UInt128 value) => new() { High = (ulong)(value >> 64), Low = (ulong)value };

    public static UInt128 FromProto(this Uint128 value) => ((UInt128)value.High << 64) | value.Low;

    public static string ToHex(this UInt128 value) => value.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);

    public static Uint128 ProtoFromHex(string hex) =>
        UInt128.Parse(hex, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture).ToProto();

    /// <summary>
    /// A deterministic id for the seeder: the same seed, customer and step always give the same
    /// id, so a seeding run that is interrupted and started again cannot apply a transfer twice.
    /// Its top byte is <paramref name="idNamespace"/>: the ledger refuses a new transfer whose id
    /// is not in the namespace its request declares (the bank's own, or the card processor's for
    /// the demo's card history).
    /// </summary>
    public static UInt128 Deterministic(int seed, int customer, int step, IdNamespace idNamespace = IdNamespace.Bank) =>
        Uint128.InNamespace(idNamespace,
            ((UInt128)0x5EED_0000_0000_0000UL << 64) | ((UInt128)(uint)seed << 64) | ((ulong)(uint)customer << 20) | (uint)step);
}
