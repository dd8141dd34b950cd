namespace Bulwark.Iso8583;

/// <summary>The character set of a data element (ISO 8583:1987 attribute notation).</summary>
public enum Iso8583FieldFormat
{
    /// <summary><c>n</c>: ASCII digits 0-9. Fixed-length values are left-padded with zeros.</summary>
    Numeric,

    /// <summary>
    /// <c>an</c>: ASCII letters and digits, plus space because space is the pad character of
    /// fixed-length text. Fixed-length values are right-padded with spaces.
    /// </summary>
    Alphanumeric,

    /// <summary><c>ans</c>: printable ASCII 0x20-0x7E. Fixed-length values are right-padded with spaces.</summary>
    AlphanumericSpecial,
}

/// <summary>How the length of a data element is known on the wire.</summary>
public enum Iso8583LengthKind
{
    /// <summary>Exactly <see cref="Iso8583FieldSpec.MaxLength"/> bytes, no length prefix.</summary>
    Fixed,

    /// <summary>Two ASCII digits of length, then 1-99 bytes of data.</summary>
    LlVar,

    /// <summary>Three ASCII digits of length, then 1-999 bytes of data.</summary>
    LllVar,
}

/// <summary>What a numeric field's digits mean beyond being digits, checked on parse and on build.</summary>
public enum Iso8583FieldContent
{
    /// <summary>Any value of the field's format.</summary>
    Any,

    /// <summary>MMDDhhmmss (10 digits).</summary>
    MonthDayTime,

    /// <summary>hhmmss (6 digits).</summary>
    Time,

    /// <summary>MMDD (4 digits).</summary>
    MonthDay,

    /// <summary>YYMM (4 digits), as in a card expiry date.</summary>
    YearMonth,
}

/// <summary>One row of the field table: everything the codec needs to read or write a data element.</summary>
/// <param name="Number">The data element number, 2-128.</param>
/// <param name="Name">The ISO 8583:1987 name, used in error messages and docs.</param>
/// <param name="Format">The character set.</param>
/// <param name="LengthKind">Fixed, LLVAR or LLLVAR.</param>
/// <param name="MaxLength">The exact length of a fixed field, the maximum of a variable one.</param>
/// <param name="Content">What the digits mean, for fields with dates and times.</param>
public sealed record Iso8583FieldSpec(
    int Number,
    string Name,
    Iso8583FieldFormat Format,
    Iso8583LengthKind LengthKind,
    int MaxLength,
    Iso8583FieldContent Content = Iso8583FieldContent.Any)
{
    /// <summary>The number of ASCII length digits before the data: 0, 2 or 3.</summary>
    public int LengthPrefixDigits => LengthKind switch
    {
        Iso8583LengthKind.LlVar => 2,
        Iso8583LengthKind.LllVar => 3,
        _ => 0,
    };

    /// <summary>Whether the field is variable-length.</summary>
    public bool IsVariable => LengthKind != Iso8583LengthKind.Fixed;
}
