using System.Diagnostics.CodeAnalysis;

namespace Bulwark.Iso8583;

/// <summary>
/// Builds the codec's errors away from the hot paths, so parsing code stays small and formats
/// strings only when something is actually wrong.
/// </summary>
internal static class ThrowHelper
{
    public static Iso8583FormatException Field(int fieldNumber, string reason) =>
        new(Iso8583ErrorLocation.Field, fieldNumber, reason);

    public static Iso8583FormatException UnsupportedField(int fieldNumber) =>
        Field(fieldNumber, fieldNumber == Iso8583Fields.TertiaryBitmap
            ? "tertiary bitmap is not supported"
            : "data element is not supported by this codec (its length is unknown)");

    [DoesNotReturn]
    public static void ThrowField(int fieldNumber, string reason) => throw Field(fieldNumber, reason);

    [DoesNotReturn]
    public static void ThrowFieldAbsent(int fieldNumber) => throw Field(fieldNumber, "required but absent");

    [DoesNotReturn]
    public static void ThrowInvalidCharacter(Iso8583FieldSpec spec, byte value, int offset)
    {
        var kind = spec.Format switch
        {
            Iso8583FieldFormat.Numeric => "non-numeric",
            Iso8583FieldFormat.Alphanumeric => "non-alphanumeric",
            _ => "non-printable",
        };
        throw Field(spec.Number, $"{kind} character {DescribeByte(value)} at offset {offset}");
    }

    [DoesNotReturn]
    public static void ThrowTruncatedField(int fieldNumber, int offset, int needed, int remaining) =>
        throw Field(fieldNumber, remaining == 0
            ? $"announced by the bitmap but absent: the message ends at byte {offset}"
            : $"truncated: needs {needed} bytes at message offset {offset}, {remaining} remain");

    [DoesNotReturn]
    public static void ThrowAt(Iso8583ErrorLocation location, string reason) => throw new Iso8583FormatException(location, 0, reason);

    [DoesNotReturn]
    public static void ThrowUnsupportedField(int fieldNumber) => throw UnsupportedField(fieldNumber);

    [DoesNotReturn]
    public static void ThrowOutOfRange(int fieldNumber) =>
        throw new ArgumentOutOfRangeException(nameof(fieldNumber), fieldNumber, $"A field number is 1-{Iso8583Limits.FieldNumberMax}.");

    public static string DescribeByte(byte value) =>
        value is >= 0x20 and < 0x7F ? $"'{(char)value}'" : $"0x{value:X2}";
}
