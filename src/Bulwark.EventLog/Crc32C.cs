using System.Buffers.Binary;
using System.Numerics;

namespace Bulwark.EventLog;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of iSCSI, ext4 metadata and Kafka's record batches: it
/// catches every burst error of up to 32 bits and has a hardware instruction on x86 (SSE 4.2) and
/// ARMv8, which <see cref="BitOperations.Crc32C(uint, ulong)"/> uses (with a software fallback).
/// System.IO.Hashing offers only CRC-32 (the zip polynomial), so no package is needed for this.
/// </summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var value in data)
        {
            crc = BitOperations.Crc32C(crc, value);
        }
        return ~crc;
    }
}
