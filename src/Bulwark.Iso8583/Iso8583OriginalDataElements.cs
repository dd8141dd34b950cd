using System.Globalization;

namespace Bulwark.Iso8583;

/// <summary>
/// Field 90 of a reversal: which message it reverses. On the wire, 42 digits: original MTI (4),
/// original STAN (6), original transmission date and time MMDDhhmmss (10), acquiring institution id
/// (11) and forwarding institution id (11), both right-aligned and zero-filled.
/// </summary>
/// <param name="Mti">The original message's MTI, e.g. 0100.</param>
/// <param name="SystemsTraceAuditNumber">The original field 11, 0-999999.</param>
/// <param name="TransmissionDateTime">The original field 7, ten digits MMDDhhmmss.</param>
/// <param name="AcquiringInstitutionId">The original field 32 as a number (0 when absent).</param>
/// <param name="ForwardingInstitutionId">The original field 33 as a number (0 when absent).</param>
public readonly record struct Iso8583OriginalDataElements(
    MessageTypeIndicator Mti,
    int SystemsTraceAuditNumber,
    string TransmissionDateTime,
    long AcquiringInstitutionId,
    long ForwardingInstitutionId)
{
    /// <summary>The length of field 90 on the wire.</summary>
    public const int Length = 42;

    private const long InstitutionIdMax = 99_999_999_999;

    /// <summary>The original data elements of a request, ready for a reversal of it.</summary>
    /// <exception cref="Iso8583FormatException">Fields 11 or 7 are absent from the original.</exception>
    public static Iso8583OriginalDataElements From(Iso8583Message original)
    {
        ArgumentNullException.ThrowIfNull(original);
        var acquirer = original.TryGetField(Iso8583Fields.AcquiringInstitutionId, out var digits) ? ParseDigits(digits) : 0;
        return new(
            original.Mti,
            original.GetSystemsTraceAuditNumber(),
            original.GetString(Iso8583Fields.TransmissionDateTime),
            acquirer,
            0);
    }

    /// <summary>Reads the 42 digits of field 90.</summary>
    /// <exception cref="Iso8583FormatException">Wrong length, not digits, unknown MTI or a bad date.</exception>
    public static Iso8583OriginalDataElements Parse(ReadOnlySpan<byte> digits)
    {
        var spec = Iso8583Fields.Get(Iso8583Fields.OriginalDataElements);
        if (digits.Length != Length)
        {
            ThrowHelper.ThrowField(spec.Number, $"length {digits.Length} is not {Length}");
        }

        FieldValidator.ValidateCharacters(spec, digits);
        MessageTypeIndicator mti;
        try
        {
            mti = MessageTypeIndicator.Parse(digits[..4]);
        }
        catch (Iso8583FormatException exception)
        {
            throw ThrowHelper.Field(spec.Number, $"original MTI: {exception.Reason}");
        }

        var dateTime = digits.Slice(10, 10);
        try
        {
            FieldValidator.ValidateContent(Iso8583Fields.Get(Iso8583Fields.TransmissionDateTime), dateTime);
        }
        catch (Iso8583FormatException exception)
        {
            throw ThrowHelper.Field(spec.Number, $"original transmission date and time: {exception.Reason}");
        }

        return new(mti, (int)ParseDigits(digits.Slice(4, 6)), System.Text.Encoding.ASCII.GetString(dateTime), ParseDigits(digits.Slice(20, 11)), ParseDigits(digits.Slice(31, 11)));
    }

    /// <summary>The 42 digits of field 90.</summary>
    /// <exception cref="Iso8583FormatException">A part is out of range.</exception>
    public string Format()
    {
        var number = Iso8583Fields.OriginalDataElements;
        if (SystemsTraceAuditNumber is < 0 or > 999_999)
        {
            ThrowHelper.ThrowField(number, $"original STAN {SystemsTraceAuditNumber} is not 0-999999");
        }

        if (AcquiringInstitutionId is < 0 or > InstitutionIdMax || ForwardingInstitutionId is < 0 or > InstitutionIdMax)
        {
            ThrowHelper.ThrowField(number, "institution ids must be 0-99999999999");
        }

        var text = string.Create(CultureInfo.InvariantCulture, $"{Mti}{SystemsTraceAuditNumber:D6}{TransmissionDateTime}{AcquiringInstitutionId:D11}{ForwardingInstitutionId:D11}");

        // Parsing what was just written checks the MTI and the date with the parser's own rules.
        Span<byte> ascii = stackalloc byte[Length];
        if (text.Length != Length || System.Text.Encoding.ASCII.GetBytes(text, ascii) != Length)
        {
            ThrowHelper.ThrowField(number, $"original transmission date and time '{TransmissionDateTime}' is not 10 digits");
        }

        Parse(ascii);
        return text;
    }

    private static long ParseDigits(ReadOnlySpan<byte> digits)
    {
        long value = 0;
        foreach (var digit in digits)
        {
            value = (value * 10) + (digit - '0');
        }

        return value;
    }
}
