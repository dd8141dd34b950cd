using System.Globalization;
using Bulwark.Ledger.Protos;

namespace Bulwark.Feed.Ledger;

/// <summary>Conversions between <see cref="UInt128"/>, the ledger's wire form and 32 lowercase hex digits.</summary>
internal static class LedgerIds
{
    public static Uint128 ToProto(UInt128 value) => new() { High = (ulong)(value >> 64), Low = (ulong)value };

    public static UInt128 FromProto(Uint128? value) => value is null ? UInt128.Zero : ((UInt128)value.High << 64) | value.Low;

    public static string ToHex(UInt128 value) => value.ToString("x32", CultureInfo.InvariantCulture);
}
