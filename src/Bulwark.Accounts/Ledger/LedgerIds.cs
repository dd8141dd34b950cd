using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using Bulwark.Ledger.Protos;

namespace Bulwark.Accounts.Ledger;

/// <summary>Conversions between <see cref="UInt128"/>, the ledger's wire form and 32 lowercase hex digits.</summary>
internal static class LedgerIds
{
    public static Uint128 ToProto(UInt128 value) => new() { High = (ulong)(value >> 64), Low = (ulong)value };

    public static UInt128 FromProto(Uint128? value) => value is null ? UInt128.Zero : ((UInt128)value.High << 64) | value.Low;

    public static string ToHex(UInt128 value) => value.ToString("x32", CultureInfo.InvariantCulture);

    public static UInt128 FromHex(string hex) => UInt128.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    /// <summary>A fresh random id: 128 bits make a collision as unlikely as a hardware fault.</summary>
    public static UInt128 NewRandom()
    {
        Span<byte> bytes = stackalloc byte[16];
        UInt128 id;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            id = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        }
        while (id == UInt128.Zero);
        return id;
    }
}
