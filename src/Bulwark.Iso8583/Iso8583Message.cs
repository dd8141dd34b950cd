using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Bulwark.Iso8583;

/// <summary>
/// A parsed, validated ISO 8583 message. It keeps the message bytes and, per present field, an
/// offset and a length into them: reading a field as a span costs nothing and only the string
/// accessors allocate. Immutable, so it can be shared across threads.
/// </summary>
public sealed class Iso8583Message
{
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly ulong _primary;
    private readonly ulong _secondary;

    // Two entries per present field in field order: data offset, data length (no length prefix).
    private readonly int[] _positions;

    private Iso8583Message(ReadOnlyMemory<byte> bytes, MessageTypeIndicator mti, ulong primary, ulong secondary, int[] positions)
    {
        _bytes = bytes;
        Mti = mti;
        _primary = primary;
        _secondary = secondary;
        _positions = positions;
    }

    /// <summary>The message type indicator.</summary>
    public MessageTypeIndicator Mti { get; }

    /// <summary>The whole message as received (MTI, bitmaps and fields; no frame header).</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>How many data elements are present (bitmap indicator bits are not counted).</summary>
    public int FieldCount => _positions.Length / 2;

    /// <summary>The present data element numbers in ascending order, for <c>foreach</c>; does not allocate.</summary>
    public Iso8583FieldEnumerator Fields => new(_primary, _secondary);

    /// <summary>
    /// Parses and validates one message. The message keeps a reference to <paramref name="message"/>
    /// instead of copying it, so the caller must not reuse that memory while the message is in use.
    /// </summary>
    /// <exception cref="Iso8583FormatException">Anything that does not follow the wire profile.</exception>
    public static Iso8583Message Parse(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        var mti = MessageTypeIndicator.Parse(span);
        int[] positions = [];
        var slot = 0;
        ulong validPrimary = 0;
        ulong validSecondary = 0;
        try
        {
            var (primary, secondary, offset) = ReadBitmaps(span);
            positions = Bitmap.DataCount(primary, secondary) is var count and > 0 ? new int[count * 2] : [];
            foreach (var fieldNumber in new Iso8583FieldEnumerator(primary, secondary))
            {
                var spec = Iso8583Fields.Find(fieldNumber);
                if (spec is null)
                {
                    ThrowHelper.ThrowUnsupportedField(fieldNumber);
                }

                var length = ReadField(spec, span, ref offset);
                positions[slot++] = offset - length;
                positions[slot++] = length;
                validPrimary |= fieldNumber <= 64 ? Bitmap.Mask(fieldNumber) : 0;
                validSecondary |= fieldNumber > 64 ? Bitmap.Mask(fieldNumber) : 0;
            }

            if (offset != span.Length)
            {
                ThrowHelper.ThrowAt(Iso8583ErrorLocation.Message, $"{span.Length - offset} trailing bytes after the last field (offset {offset})");
            }

            return new Iso8583Message(message, mti, primary, secondary, positions);
        }
        catch (Iso8583FormatException error)
        {
            // The fields before the bad one are valid; keeping them lets the caller answer the request.
            throw error.WithPartialMessage(new Iso8583Message(message, mti, validPrimary, validSecondary, positions[..slot]));
        }
    }

    /// <summary>
    /// Parses a message held in a (possibly multi-segment) sequence, such as a frame from a
    /// <c>PipeReader</c>. The bytes are copied into one new array, because pipe buffers are recycled
    /// as soon as the reader advances.
    /// </summary>
    /// <exception cref="Iso8583FormatException">Anything that does not follow the wire profile.</exception>
    public static Iso8583Message Parse(ReadOnlySequence<byte> message) => Parse(message.ToArray());

    /// <summary>Whether a data element is present.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not 1-128.</exception>
    public bool Has(int fieldNumber)
    {
        if ((uint)(fieldNumber - 1) >= Iso8583Limits.FieldNumberMax)
        {
            ThrowHelper.ThrowOutOfRange(fieldNumber);
        }

        return fieldNumber != Iso8583Fields.SecondaryBitmap && Bitmap.IsSet(_primary, _secondary, fieldNumber);
    }

    /// <summary>The field's wire bytes (ASCII, without a length prefix), if present.</summary>
    public bool TryGetField(int fieldNumber, out ReadOnlySpan<byte> value)
    {
        if (!Has(fieldNumber))
        {
            value = default;
            return false;
        }

        var slot = Bitmap.DataIndex(_primary, _secondary, fieldNumber) * 2;
        value = _bytes.Span.Slice(_positions[slot], _positions[slot + 1]);
        return true;
    }

    /// <summary>The field's wire bytes (ASCII, without a length prefix).</summary>
    /// <exception cref="Iso8583FormatException">The field is absent.</exception>
    public ReadOnlySpan<byte> GetField(int fieldNumber)
    {
        if (!TryGetField(fieldNumber, out var value))
        {
            ThrowHelper.ThrowFieldAbsent(fieldNumber);
        }

        return value;
    }

    /// <summary>The field's wire memory, for keeping a field without copying it.</summary>
    /// <exception cref="Iso8583FormatException">The field is absent.</exception>
    public ReadOnlyMemory<byte> GetFieldMemory(int fieldNumber)
    {
        if (!Has(fieldNumber))
        {
            ThrowHelper.ThrowFieldAbsent(fieldNumber);
        }

        var slot = Bitmap.DataIndex(_primary, _secondary, fieldNumber) * 2;
        return _bytes.Slice(_positions[slot], _positions[slot + 1]);
    }

    /// <summary>Whether the field is present and its wire bytes equal <paramref name="ascii"/>; does not allocate.</summary>
    public bool FieldEquals(int fieldNumber, ReadOnlySpan<byte> ascii) =>
        TryGetField(fieldNumber, out var value) && value.SequenceEqual(ascii);

    /// <summary>The field exactly as on the wire (fixed text keeps its padding spaces).</summary>
    /// <exception cref="Iso8583FormatException">The field is absent.</exception>
    public string GetString(int fieldNumber) => Encoding.ASCII.GetString(GetField(fieldNumber));

    /// <summary>The field exactly as on the wire, if present.</summary>
    public bool TryGetString(int fieldNumber, [NotNullWhen(true)] out string? value)
    {
        value = TryGetField(fieldNumber, out var bytes) ? Encoding.ASCII.GetString(bytes) : null;
        return value is not null;
    }

    /// <summary>A text field without its trailing padding spaces, e.g. a merchant name from field 43.</summary>
    /// <exception cref="Iso8583FormatException">The field is absent.</exception>
    public string GetTrimmedString(int fieldNumber) => Encoding.ASCII.GetString(GetField(fieldNumber).TrimEnd((byte)' '));

    /// <summary>A numeric field of at most 18 digits as a number.</summary>
    /// <exception cref="Iso8583FormatException">The field is absent.</exception>
    /// <exception cref="ArgumentException">The field is not numeric or may be longer than 18 digits.</exception>
    public long GetInt64(int fieldNumber)
    {
        if (!TryGetInt64(fieldNumber, out var value))
        {
            ThrowHelper.ThrowFieldAbsent(fieldNumber);
        }

        return value;
    }

    /// <summary>A numeric field of at most 18 digits as a number, if present.</summary>
    /// <exception cref="ArgumentException">The field is not numeric or may be longer than 18 digits.</exception>
    public bool TryGetInt64(int fieldNumber, out long value)
    {
        var spec = Iso8583Fields.Find(fieldNumber);
        if (spec is null || spec.Format != Iso8583FieldFormat.Numeric || spec.MaxLength > Iso8583Limits.Int64DigitsMax)
        {
            throw new ArgumentException($"Field {fieldNumber} is not a numeric field of at most {Iso8583Limits.Int64DigitsMax} digits.", nameof(fieldNumber));
        }

        value = 0;
        if (!TryGetField(fieldNumber, out var digits))
        {
            return false;
        }

        // The parser has already checked that every byte is a digit.
        foreach (var digit in digits)
        {
            value = (value * 10) + (digit - '0');
        }

        return true;
    }

    /// <summary>Field 2, the PAN. Keep it out of logs: <see cref="ToString"/> masks it.</summary>
    public string GetPrimaryAccountNumber() => GetString(Iso8583Fields.PrimaryAccountNumber);

    /// <summary>Field 4, the amount in minor units of <see cref="GetCurrencyCode"/>.</summary>
    public long GetAmount() => GetInt64(Iso8583Fields.Amount);

    /// <summary>Field 49, the ISO 4217 numeric currency code, e.g. "978".</summary>
    public string GetCurrencyCode() => GetString(Iso8583Fields.CurrencyCode);

    /// <summary>Field 11, the systems trace audit number.</summary>
    public int GetSystemsTraceAuditNumber() => (int)GetInt64(Iso8583Fields.SystemsTraceAuditNumber);

    /// <summary>Field 37, the retrieval reference number, as on the wire (12 characters).</summary>
    public string GetRetrievalReferenceNumber() => GetString(Iso8583Fields.RetrievalReferenceNumber);

    /// <summary>Field 39, the response code (see <see cref="Iso8583ResponseCodes"/>).</summary>
    public string GetResponseCode() => GetString(Iso8583Fields.ResponseCode);

    /// <summary>Field 70, the network management information code (see <see cref="Iso8583NetworkManagementCodes"/>).</summary>
    public string GetNetworkManagementCode() => GetString(Iso8583Fields.NetworkManagementCode);

    /// <summary>Field 90, the original data elements of a reversal.</summary>
    /// <exception cref="Iso8583FormatException">The field is absent or its MTI is unknown.</exception>
    public Iso8583OriginalDataElements GetOriginalDataElements() =>
        Iso8583OriginalDataElements.Parse(GetField(Iso8583Fields.OriginalDataElements));

    /// <summary>
    /// A one-line description for logs, e.g. "0100 2=************1111 3=000000 4=000000001000".
    /// The PAN shows only its last four digits and the expiry date not at all.
    /// </summary>
    public override string ToString()
    {
        var text = new StringBuilder(Mti.ToString());
        foreach (var fieldNumber in Fields)
        {
            var value = GetField(fieldNumber);
            text.Append(' ').Append(fieldNumber).Append('=');
            switch (fieldNumber)
            {
                case Iso8583Fields.PrimaryAccountNumber:
                    var shown = Math.Min(4, value.Length / 2);
                    text.Append('*', value.Length - shown).Append(Encoding.ASCII.GetString(value[^shown..]));
                    break;
                case Iso8583Fields.ExpiryDate:
                    text.Append('*', value.Length);
                    break;
                default:
                    text.Append(Encoding.ASCII.GetString(value));
                    break;
            }
        }

        return text.ToString();
    }

    private static (ulong Primary, ulong Secondary, int Offset) ReadBitmaps(ReadOnlySpan<byte> span)
    {
        var offset = Iso8583Limits.MtiBytes;
        if (span.Length - offset < Iso8583Limits.BitmapBytes)
        {
            ThrowHelper.ThrowAt(Iso8583ErrorLocation.PrimaryBitmap, $"truncated: needs {Iso8583Limits.BitmapBytes} bytes at offset {offset}, {span.Length - offset} remain");
        }

        var primary = BinaryPrimitives.ReadUInt64BigEndian(span[offset..]);
        offset += Iso8583Limits.BitmapBytes;
        if ((primary & Bitmap.FirstBit) == 0)
        {
            return (primary, 0, offset);
        }

        if (span.Length - offset < Iso8583Limits.BitmapBytes)
        {
            ThrowHelper.ThrowAt(Iso8583ErrorLocation.SecondaryBitmap, $"announced by bit 1 but truncated: needs {Iso8583Limits.BitmapBytes} bytes at offset {offset}, {span.Length - offset} remain");
        }

        var secondary = BinaryPrimitives.ReadUInt64BigEndian(span[offset..]);
        offset += Iso8583Limits.BitmapBytes;
        // A secondary bitmap that announces no field 65-128 is wasteful but allowed by ISO 8583, and
        // some acquirer stacks always send one: it is read as "no field 65-128", not refused. The
        // builder still leaves it out, so Bulwark itself sends one encoding.
        if ((secondary & Bitmap.FirstBit) != 0)
        {
            ThrowHelper.ThrowUnsupportedField(Iso8583Fields.TertiaryBitmap);
        }

        return (primary, secondary, offset);
    }

    /// <summary>Reads one field at <paramref name="offset"/>, validates it and moves past it; returns the data length.</summary>
    private static int ReadField(Iso8583FieldSpec spec, ReadOnlySpan<byte> span, ref int offset)
    {
        var length = spec.MaxLength;
        if (spec.IsVariable)
        {
            length = ReadLengthPrefix(spec, span, ref offset);
        }

        if (span.Length - offset < length)
        {
            ThrowHelper.ThrowTruncatedField(spec.Number, offset, length, span.Length - offset);
        }

        var value = span.Slice(offset, length);
        FieldValidator.ValidateCharacters(spec, value);
        FieldValidator.ValidateContent(spec, value);
        offset += length;
        return length;
    }

    private static int ReadLengthPrefix(Iso8583FieldSpec spec, ReadOnlySpan<byte> span, ref int offset)
    {
        var digits = spec.LengthPrefixDigits;
        if (span.Length - offset < digits)
        {
            ThrowHelper.ThrowTruncatedField(spec.Number, offset, digits, span.Length - offset);
        }

        var length = 0;
        for (var index = 0; index < digits; index++)
        {
            var digit = span[offset + index] - '0';
            if ((uint)digit > 9)
            {
                ThrowHelper.ThrowField(spec.Number, $"non-numeric character {ThrowHelper.DescribeByte(span[offset + index])} in the length prefix at offset {index}");
            }

            length = (length * 10) + digit;
        }

        if (length > spec.MaxLength)
        {
            ThrowHelper.ThrowField(spec.Number, $"variable length {length} exceeds the maximum {spec.MaxLength}");
        }

        if (length == 0)
        {
            ThrowHelper.ThrowField(spec.Number, "variable length 0: an empty field must be left out instead");
        }

        offset += digits;
        return length;
    }
}
