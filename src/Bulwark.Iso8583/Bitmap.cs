using System.Numerics;

namespace Bulwark.Iso8583;

/// <summary>
/// Bit arithmetic for the two 64-bit bitmaps: field 1 is the most significant bit of the primary
/// bitmap, field 64 its least significant, and fields 65-128 the same in the secondary bitmap.
/// </summary>
internal static class Bitmap
{
    public const ulong FirstBit = 1UL << 63;

    public static ulong Mask(int fieldNumber) => FirstBit >> ((fieldNumber - 1) & 63);

    public static bool IsSet(ulong primary, ulong secondary, int fieldNumber) =>
        ((fieldNumber <= 64 ? primary : secondary) & Mask(fieldNumber)) != 0;

    /// <summary>The number of data elements present before <paramref name="fieldNumber"/>; bit 1 is not a data element.</summary>
    public static int DataIndex(ulong primary, ulong secondary, int fieldNumber)
    {
        var primaryData = primary & ~FirstBit;
        if (fieldNumber <= 64)
        {
            // Shifting right by (65 - field) keeps exactly the bits of fields 1..field-1.
            return BitOperations.PopCount(primaryData >> (65 - fieldNumber));
        }

        var secondaryBefore = fieldNumber == 65 ? 0UL : secondary >> (129 - fieldNumber);
        return BitOperations.PopCount(primaryData) + BitOperations.PopCount(secondaryBefore);
    }

    public static int DataCount(ulong primary, ulong secondary) =>
        BitOperations.PopCount(primary & ~FirstBit) + BitOperations.PopCount(secondary);
}

/// <summary>
/// Enumerates the data elements present in a message in ascending order, without allocating.
/// Bit 1 (the secondary bitmap indicator) is not a data element and is never returned.
/// </summary>
public struct Iso8583FieldEnumerator
{
    private ulong _primary;
    private ulong _secondary;

    internal Iso8583FieldEnumerator(ulong primary, ulong secondary)
    {
        _primary = primary & ~Bitmap.FirstBit;
        _secondary = secondary;
        Current = 0;
    }

    /// <summary>The current field number.</summary>
    public int Current { get; private set; }

    /// <summary>Returns this enumerator, so it works in <c>foreach</c>.</summary>
    public readonly Iso8583FieldEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next present field.</summary>
    public bool MoveNext()
    {
        if (_primary != 0)
        {
            var zeros = BitOperations.LeadingZeroCount(_primary);
            _primary &= ~(Bitmap.FirstBit >> zeros);
            Current = zeros + 1;
            return true;
        }

        if (_secondary != 0)
        {
            var zeros = BitOperations.LeadingZeroCount(_secondary);
            _secondary &= ~(Bitmap.FirstBit >> zeros);
            Current = zeros + 65;
            return true;
        }

        return false;
    }
}
