using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;

namespace Bulwark.Iso8583;

/// <summary>
/// Builds a message and writes it into a caller's buffer. Values are checked and encoded the moment
/// they are set (padding included), so a bad value fails where it is set with an
/// <see cref="Iso8583FormatException"/> naming the field, and writing is plain copying.
/// A builder is meant to be reused (<see cref="Reset"/>): once warm it does not allocate.
/// Not thread-safe.
/// </summary>
public sealed class Iso8583MessageBuilder
{
    private const int DataCapacityInitial = 256;

    private readonly int[] _offsets = new int[Iso8583Limits.FieldNumberMax + 1];
    private readonly int[] _lengths = new int[Iso8583Limits.FieldNumberMax + 1];
    private byte[] _data = new byte[DataCapacityInitial];
    private int _dataUsed;
    private ulong _primary;
    private ulong _secondary;
    private MessageTypeIndicator _mti;

    /// <summary>Starts an empty message of the given type.</summary>
    public Iso8583MessageBuilder(MessageTypeIndicator mti)
    {
        Mti = mti;
    }

    /// <summary>The message type indicator.</summary>
    /// <exception cref="ArgumentException">The default (0000) value, which is not a known MTI.</exception>
    public MessageTypeIndicator Mti
    {
        get => _mti;
        set
        {
            if (value == default)
            {
                throw new ArgumentException("The MTI must be one of MessageTypeIndicator's known values.", nameof(value));
            }

            _mti = value;
        }
    }

    /// <summary>The present data element numbers in ascending order.</summary>
    public Iso8583FieldEnumerator Fields => new(_primary, _secondary);

    /// <summary>
    /// A response to <paramref name="request"/>: the response MTI (0100 -> 0110 and so on) and a copy
    /// of every field of <see cref="Iso8583Fields.ResponseEcho"/> the request has.
    /// </summary>
    /// <exception cref="Iso8583FormatException">The request is itself a response.</exception>
    public static Iso8583MessageBuilder CreateResponse(Iso8583Message request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new Iso8583MessageBuilder(request.Mti.ToResponse()).CopyEchoFields(request);
    }

    /// <summary>Clears every field and sets the MTI, keeping the buffers for reuse.</summary>
    public Iso8583MessageBuilder Reset(MessageTypeIndicator mti)
    {
        Mti = mti;
        _primary = 0;
        _secondary = 0;
        _dataUsed = 0;
        return this;
    }

    /// <summary>Like <see cref="CreateResponse"/>, reusing this builder.</summary>
    /// <exception cref="Iso8583FormatException">The request is itself a response.</exception>
    public Iso8583MessageBuilder ResetToResponse(Iso8583Message request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Reset(request.Mti.ToResponse()).CopyEchoFields(request);
    }

    /// <summary>Whether a data element is set.</summary>
    public bool Has(int fieldNumber)
    {
        CheckRange(fieldNumber);
        return fieldNumber != Iso8583Fields.SecondaryBitmap && Bitmap.IsSet(_primary, _secondary, fieldNumber);
    }

    /// <summary>The encoded value of a set field (padded for fixed fields, no length prefix).</summary>
    /// <exception cref="Iso8583FormatException">The field is not set.</exception>
    public ReadOnlySpan<byte> GetField(int fieldNumber)
    {
        if (!Has(fieldNumber))
        {
            ThrowHelper.ThrowFieldAbsent(fieldNumber);
        }

        return _data.AsSpan(_offsets[fieldNumber], _lengths[fieldNumber]);
    }

    /// <summary>
    /// Sets a field from text. Fixed numeric values are left-padded with zeros, fixed text is
    /// right-padded with spaces; variable values are sent as given.
    /// </summary>
    /// <exception cref="Iso8583FormatException">Unsupported field, bad character, too long, empty variable value, or a bad date.</exception>
    public Iso8583MessageBuilder Set(int fieldNumber, ReadOnlySpan<char> value)
    {
        var spec = CheckLength(fieldNumber, value.Length);
        var destination = Reserve(spec.MaxLength);
        for (var index = 0; index < value.Length; index++)
        {
            if (value[index] >= 0x80)
            {
                ThrowHelper.ThrowField(fieldNumber, $"non-ASCII character '{value[index]}' at offset {index}");
            }

            destination[index] = (byte)value[index];
        }

        return Commit(spec, destination, value.Length);
    }

    /// <summary>Sets a field from ASCII bytes, padded as <see cref="Set(int, ReadOnlySpan{char})"/>.</summary>
    /// <exception cref="Iso8583FormatException">Unsupported field, bad character, too long, empty variable value, or a bad date.</exception>
    public Iso8583MessageBuilder Set(int fieldNumber, ReadOnlySpan<byte> ascii)
    {
        var spec = CheckLength(fieldNumber, ascii.Length);
        var destination = Reserve(spec.MaxLength);
        ascii.CopyTo(destination);
        return Commit(spec, destination, ascii.Length);
    }

    /// <summary>Sets a numeric field from a number, e.g. the amount in minor units or the STAN.</summary>
    /// <exception cref="Iso8583FormatException">Not a numeric field, negative, or too many digits.</exception>
    public Iso8583MessageBuilder Set(int fieldNumber, long value)
    {
        var spec = Iso8583Fields.Get(fieldNumber);
        if (spec.Format != Iso8583FieldFormat.Numeric)
        {
            ThrowHelper.ThrowField(fieldNumber, "is not numeric; set it from text");
        }

        if (value < 0)
        {
            ThrowHelper.ThrowField(fieldNumber, $"negative value {value}");
        }

        Span<byte> digits = stackalloc byte[20];
        value.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        return Set(fieldNumber, digits[..written]);
    }

    /// <summary>
    /// Sets a date or time field (7 MMDDhhmmss, 12 hhmmss, 13 MMDD, 14 YYMM) from the components of
    /// <paramref name="value"/> as given: pass UTC for field 7 and local time for fields 12 and 13.
    /// </summary>
    /// <exception cref="Iso8583FormatException">The field holds no date or time.</exception>
    public Iso8583MessageBuilder Set(int fieldNumber, DateTime value)
    {
        var format = Iso8583Fields.Get(fieldNumber).Content switch
        {
            Iso8583FieldContent.MonthDayTime => "MMddHHmmss",
            Iso8583FieldContent.Time => "HHmmss",
            Iso8583FieldContent.MonthDay => "MMdd",
            Iso8583FieldContent.YearMonth => "yyMM",
            _ => null,
        };
        if (format is null)
        {
            ThrowHelper.ThrowField(fieldNumber, "holds no date or time");
        }

        Span<char> text = stackalloc char[10];
        value.TryFormat(text, out var written, format, CultureInfo.InvariantCulture);
        return Set(fieldNumber, text[..written]);
    }

    /// <summary>Copies a field's bytes from a parsed message, if the message has it.</summary>
    public Iso8583MessageBuilder CopyFrom(Iso8583Message source, int fieldNumber)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.TryGetField(fieldNumber, out var value) ? Set(fieldNumber, value) : this;
    }

    /// <summary>Removes a field; removing an absent field does nothing.</summary>
    public Iso8583MessageBuilder Remove(int fieldNumber)
    {
        CheckRange(fieldNumber);
        if (fieldNumber <= 64)
        {
            _primary &= ~Bitmap.Mask(fieldNumber);
        }
        else
        {
            _secondary &= ~Bitmap.Mask(fieldNumber);
        }

        return this;
    }

    /// <summary>The number of bytes <see cref="WriteTo(Span{byte})"/> writes (no frame header).</summary>
    public int GetEncodedLength()
    {
        var length = Iso8583Limits.MtiBytes + Iso8583Limits.BitmapBytes + (_secondary != 0 ? Iso8583Limits.BitmapBytes : 0);
        foreach (var fieldNumber in Fields)
        {
            length += Iso8583Fields.Get(fieldNumber).LengthPrefixDigits + _lengths[fieldNumber];
        }

        return length;
    }

    /// <summary>Writes the message (no frame header) and returns the bytes written.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="GetEncodedLength"/>.</exception>
    public int WriteTo(Span<byte> destination)
    {
        var length = GetEncodedLength();
        if (destination.Length < length)
        {
            throw new ArgumentException($"The destination has {destination.Length} bytes; the message needs {length}.", nameof(destination));
        }

        Write(destination[..length]);
        return length;
    }

    /// <summary>Writes the message (no frame header) and returns the bytes written.</summary>
    public int WriteTo(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var length = GetEncodedLength();
        Write(writer.GetSpan(length)[..length]);
        writer.Advance(length);
        return length;
    }

    /// <summary>Writes the 2-byte length header and the message; returns the bytes written.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public int WriteFrameTo(Span<byte> destination)
    {
        var length = GetEncodedLength();
        var frameLength = Iso8583Limits.FrameHeaderBytes + length;
        if (destination.Length < frameLength)
        {
            throw new ArgumentException($"The destination has {destination.Length} bytes; the frame needs {frameLength}.", nameof(destination));
        }

        Iso8583Framing.WriteHeader(destination, length);
        Write(destination.Slice(Iso8583Limits.FrameHeaderBytes, length));
        return frameLength;
    }

    /// <summary>Writes the 2-byte length header and the message; returns the bytes written.</summary>
    public int WriteFrameTo(IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var frameLength = Iso8583Limits.FrameHeaderBytes + GetEncodedLength();
        var written = WriteFrameTo(writer.GetSpan(frameLength));
        writer.Advance(written);
        return written;
    }

    /// <summary>The message as a new array (no frame header); convenient in tests and tools.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[GetEncodedLength()];
        Write(bytes);
        return bytes;
    }

    private Iso8583MessageBuilder CopyEchoFields(Iso8583Message request)
    {
        foreach (var fieldNumber in Iso8583Fields.ResponseEcho)
        {
            CopyFrom(request, fieldNumber);
        }

        return this;
    }

    private void Write(Span<byte> destination)
    {
        _mti.WriteTo(destination);
        var offset = Iso8583Limits.MtiBytes;
        var primary = _secondary != 0 ? _primary | Bitmap.FirstBit : _primary & ~Bitmap.FirstBit;
        BinaryPrimitives.WriteUInt64BigEndian(destination[offset..], primary);
        offset += Iso8583Limits.BitmapBytes;
        if (_secondary != 0)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination[offset..], _secondary);
            offset += Iso8583Limits.BitmapBytes;
        }

        foreach (var fieldNumber in Fields)
        {
            var length = _lengths[fieldNumber];
            var prefixDigits = Iso8583Fields.Get(fieldNumber).LengthPrefixDigits;
            for (int index = prefixDigits - 1, remaining = length; index >= 0; index--, remaining /= 10)
            {
                destination[offset + index] = (byte)('0' + (remaining % 10));
            }

            offset += prefixDigits;
            _data.AsSpan(_offsets[fieldNumber], length).CopyTo(destination[offset..]);
            offset += length;
        }
    }

    private static void CheckRange(int fieldNumber)
    {
        if ((uint)(fieldNumber - 1) >= Iso8583Limits.FieldNumberMax)
        {
            ThrowHelper.ThrowOutOfRange(fieldNumber);
        }
    }

    private static Iso8583FieldSpec CheckLength(int fieldNumber, int length)
    {
        var spec = Iso8583Fields.Get(fieldNumber);
        if (length > spec.MaxLength)
        {
            ThrowHelper.ThrowField(fieldNumber, spec.IsVariable
                ? $"variable length {length} exceeds the maximum {spec.MaxLength}"
                : $"length {length} exceeds the fixed length {spec.MaxLength}");
        }

        if (length == 0 && spec.IsVariable)
        {
            ThrowHelper.ThrowField(fieldNumber, "variable length 0: an empty field must be left out instead");
        }

        return spec;
    }

    /// <summary>Space at the end of the data buffer for one value; compacts or grows the buffer when full.</summary>
    private Span<byte> Reserve(int length)
    {
        if (_data.Length - _dataUsed < length)
        {
            // Overwritten values leave dead bytes behind; copying only live fields drops them.
            var live = 0;
            foreach (var fieldNumber in Fields)
            {
                live += _lengths[fieldNumber];
            }

            var data = new byte[Math.Max(_data.Length, (live + length) * 2)];
            var used = 0;
            foreach (var fieldNumber in Fields)
            {
                _data.AsSpan(_offsets[fieldNumber], _lengths[fieldNumber]).CopyTo(data.AsSpan(used));
                _offsets[fieldNumber] = used;
                used += _lengths[fieldNumber];
            }

            _data = data;
            _dataUsed = used;
        }

        return _data.AsSpan(_dataUsed, length);
    }

    /// <summary>Validates the value written at the start of <paramref name="destination"/>, pads it and marks the field present.</summary>
    private Iso8583MessageBuilder Commit(Iso8583FieldSpec spec, Span<byte> destination, int valueLength)
    {
        FieldValidator.ValidateCharacters(spec, destination[..valueLength]);
        var length = valueLength;
        if (!spec.IsVariable && valueLength < spec.MaxLength)
        {
            var padding = spec.MaxLength - valueLength;
            if (spec.Format == Iso8583FieldFormat.Numeric)
            {
                destination[..valueLength].CopyTo(destination[padding..]);
                destination[..padding].Fill((byte)'0');
            }
            else
            {
                destination[valueLength..spec.MaxLength].Fill((byte)' ');
            }

            length = spec.MaxLength;
        }

        FieldValidator.ValidateContent(spec, destination[..length]);
        _offsets[spec.Number] = _dataUsed;
        _lengths[spec.Number] = length;
        _dataUsed += length;
        if (spec.Number <= 64)
        {
            _primary |= Bitmap.Mask(spec.Number);
        }
        else
        {
            _secondary |= Bitmap.Mask(spec.Number);
        }

        return this;
    }
}
