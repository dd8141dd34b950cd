using System.Buffers;

namespace Bulwark.Iso8583;

/// <summary>
/// The checks a field value must pass, shared by the parser and the builder so that whatever the
/// builder writes the parser accepts, and the other way round.
/// </summary>
internal static class FieldValidator
{
    private static readonly SearchValues<byte> AlphanumericBytes =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "u8);

    /// <summary>Checks every byte against the field's character set; offsets are within <paramref name="value"/>.</summary>
    public static void ValidateCharacters(Iso8583FieldSpec spec, ReadOnlySpan<byte> value)
    {
        var index = spec.Format switch
        {
            Iso8583FieldFormat.Numeric => value.IndexOfAnyExceptInRange((byte)'0', (byte)'9'),
            Iso8583FieldFormat.Alphanumeric => value.IndexOfAnyExcept(AlphanumericBytes),
            _ => value.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E),
        };
        if (index >= 0)
        {
            ThrowHelper.ThrowInvalidCharacter(spec, value[index], index);
        }
    }

    /// <summary>Checks date and time fields; the value is already known to be all digits of the right length.</summary>
    public static void ValidateContent(Iso8583FieldSpec spec, ReadOnlySpan<byte> value)
    {
        switch (spec.Content)
        {
            case Iso8583FieldContent.MonthDayTime:
                ValidateMonthDay(spec.Number, value, 0);
                ValidateTime(spec.Number, value, 4);
                break;
            case Iso8583FieldContent.Time:
                ValidateTime(spec.Number, value, 0);
                break;
            case Iso8583FieldContent.MonthDay:
                ValidateMonthDay(spec.Number, value, 0);
                break;
            case Iso8583FieldContent.YearMonth:
                ValidateMonth(spec.Number, value, 2);
                break;
            default:
                break;
        }
    }

    public static int TwoDigits(ReadOnlySpan<byte> value, int offset) =>
        ((value[offset] - '0') * 10) + (value[offset + 1] - '0');

    private static int ValidateMonth(int fieldNumber, ReadOnlySpan<byte> value, int offset)
    {
        var month = TwoDigits(value, offset);
        if (month is < 1 or > 12)
        {
            ThrowHelper.ThrowField(fieldNumber, $"month {month:D2} at offset {offset} is not 01-12");
        }

        return month;
    }

    private static void ValidateMonthDay(int fieldNumber, ReadOnlySpan<byte> value, int offset)
    {
        var month = ValidateMonth(fieldNumber, value, offset);
        var day = TwoDigits(value, offset + 2);

        // The year is not on the wire, so 29 February is always allowed.
        var daysMax = month == 2 ? 29 : DateTime.DaysInMonth(2001, month);
        if (day < 1 || day > daysMax)
        {
            ThrowHelper.ThrowField(fieldNumber, $"day {day:D2} at offset {offset + 2} is not 01-{daysMax} for month {month:D2}");
        }
    }

    private static void ValidateTime(int fieldNumber, ReadOnlySpan<byte> value, int offset)
    {
        var hour = TwoDigits(value, offset);
        var minute = TwoDigits(value, offset + 2);
        var second = TwoDigits(value, offset + 4);
        if (hour > 23)
        {
            ThrowHelper.ThrowField(fieldNumber, $"hour {hour:D2} at offset {offset} is not 00-23");
        }

        if (minute > 59)
        {
            ThrowHelper.ThrowField(fieldNumber, $"minute {minute:D2} at offset {offset + 2} is not 00-59");
        }

        if (second > 59)
        {
            ThrowHelper.ThrowField(fieldNumber, $"second {second:D2} at offset {offset + 4} is not 00-59");
        }
    }
}
