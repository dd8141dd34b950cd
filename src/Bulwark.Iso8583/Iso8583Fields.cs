using static Bulwark.Iso8583.Iso8583FieldContent;
using static Bulwark.Iso8583.Iso8583FieldFormat;
using static Bulwark.Iso8583.Iso8583LengthKind;

namespace Bulwark.Iso8583;

/// <summary>
/// The data elements Bulwark uses, by number, and the one table that defines them. Adding a field
/// is one constant and one line in <see cref="Specs"/>.
/// </summary>
public static class Iso8583Fields
{
    /// <summary>Bit 1: a secondary bitmap follows the primary one. Not a data element.</summary>
    public const int SecondaryBitmap = 1;
    /// <summary>2, PAN, n..19 LLVAR.</summary>
    public const int PrimaryAccountNumber = 2;
    /// <summary>3, processing code, n6.</summary>
    public const int ProcessingCode = 3;
    /// <summary>4, transaction amount in minor units, n12.</summary>
    public const int Amount = 4;
    /// <summary>7, transmission date and time (UTC), n10 MMDDhhmmss.</summary>
    public const int TransmissionDateTime = 7;
    /// <summary>11, systems trace audit number (STAN), n6.</summary>
    public const int SystemsTraceAuditNumber = 11;
    /// <summary>12, local transaction time, n6 hhmmss.</summary>
    public const int LocalTime = 12;
    /// <summary>13, local transaction date, n4 MMDD.</summary>
    public const int LocalDate = 13;
    /// <summary>14, card expiry date, n4 YYMM.</summary>
    public const int ExpiryDate = 14;
    /// <summary>18, merchant category code, n4.</summary>
    public const int MerchantCategoryCode = 18;
    /// <summary>22, point-of-service entry mode, n3.</summary>
    public const int PosEntryMode = 22;
    /// <summary>32, acquiring institution identification code, n..11 LLVAR.</summary>
    public const int AcquiringInstitutionId = 32;
    /// <summary>37, retrieval reference number (RRN), an12.</summary>
    public const int RetrievalReferenceNumber = 37;
    /// <summary>38, authorisation identification response, an6.</summary>
    public const int AuthorizationIdResponse = 38;
    /// <summary>39, response code, an2 (see <see cref="Iso8583ResponseCodes"/>).</summary>
    public const int ResponseCode = 39;
    /// <summary>41, card acceptor terminal identification, ans8.</summary>
    public const int TerminalId = 41;
    /// <summary>42, card acceptor identification code, ans15.</summary>
    public const int CardAcceptorId = 42;
    /// <summary>43, card acceptor name/location, ans40.</summary>
    public const int CardAcceptorNameLocation = 43;
    /// <summary>49, transaction currency code (ISO 4217 numeric), n3.</summary>
    public const int CurrencyCode = 49;
    /// <summary>Bit 65: a tertiary bitmap follows. Not supported; a message announcing it is rejected.</summary>
    public const int TertiaryBitmap = 65;
    /// <summary>70, network management information code, n3 (see <see cref="Iso8583NetworkManagementCodes"/>).</summary>
    public const int NetworkManagementCode = 70;
    /// <summary>90, original data elements, n42 (see <see cref="Iso8583OriginalDataElements"/>).</summary>
    public const int OriginalDataElements = 90;

    /// <summary>
    /// The fields a response copies from its request, so the peer can match it: card, amount,
    /// trace numbers, times, acquirer, terminal and merchant, currency, and for network management
    /// and reversals fields 70 and 90. The expiry date (14) is not echoed because a response has
    /// no need for it and every copy of card data is one more to protect.
    /// </summary>
    public static ReadOnlySpan<int> ResponseEcho =>
    [
        PrimaryAccountNumber, ProcessingCode, Amount, TransmissionDateTime, SystemsTraceAuditNumber,
        LocalTime, LocalDate, AcquiringInstitutionId, RetrievalReferenceNumber, TerminalId,
        CardAcceptorId, CurrencyCode, NetworkManagementCode, OriginalDataElements,
    ];

    // The one table. Each line is a complete definition; the codec has no other per-field code.
    // Fields named by number only are ones Bulwark does not act on but other implementations send
    // (settlement amounts, private-use data): their ISO 8583:1987 formats let a message carrying
    // them be parsed instead of answered 30. Private and additional-data fields take any printable
    // ASCII, whatever their nominal attribute, as schemes fill them with their own sub-formats.
    private static readonly Iso8583FieldSpec?[] Table = CreateTable(
    [
        new(PrimaryAccountNumber, "primary account number", Numeric, LlVar, 19),
        new(ProcessingCode, "processing code", Numeric, Fixed, 6),
        new(Amount, "amount, transaction", Numeric, Fixed, 12),
        new(5, "amount, settlement", Numeric, Fixed, 12),
        new(6, "amount, cardholder billing", Numeric, Fixed, 12),
        new(TransmissionDateTime, "transmission date and time", Numeric, Fixed, 10, MonthDayTime),
        new(8, "amount, cardholder billing fee", Numeric, Fixed, 8),
        new(9, "conversion rate, settlement", Numeric, Fixed, 8),
        new(10, "conversion rate, cardholder billing", Numeric, Fixed, 8),
        new(SystemsTraceAuditNumber, "systems trace audit number", Numeric, Fixed, 6),
        new(LocalTime, "time, local transaction", Numeric, Fixed, 6, Time),
        new(LocalDate, "date, local transaction", Numeric, Fixed, 4, MonthDay),
        new(ExpiryDate, "date, expiration", Numeric, Fixed, 4, YearMonth),
        new(15, "date, settlement", Numeric, Fixed, 4),
        new(16, "date, conversion", Numeric, Fixed, 4),
        new(17, "date, capture", Numeric, Fixed, 4),
        new(MerchantCategoryCode, "merchant category code", Numeric, Fixed, 4),
        new(19, "acquiring institution country code", Numeric, Fixed, 3),
        new(20, "PAN extended, country code", Numeric, Fixed, 3),
        new(21, "forwarding institution country code", Numeric, Fixed, 3),
        new(PosEntryMode, "point of service entry mode", Numeric, Fixed, 3),
        new(23, "card sequence number", Numeric, Fixed, 3),
        new(24, "network international identifier", Numeric, Fixed, 3),
        new(25, "point of service condition code", Numeric, Fixed, 2),
        new(26, "point of service capture code", Numeric, Fixed, 2),
        new(27, "authorizing identification response length", Numeric, Fixed, 1),
        new(AcquiringInstitutionId, "acquiring institution identification code", Numeric, LlVar, 11),
        new(33, "forwarding institution identification code", Numeric, LlVar, 11),
        new(RetrievalReferenceNumber, "retrieval reference number", Alphanumeric, Fixed, 12),
        new(AuthorizationIdResponse, "authorization identification response", Alphanumeric, Fixed, 6),
        new(ResponseCode, "response code", Alphanumeric, Fixed, 2),
        new(40, "service restriction code", Alphanumeric, Fixed, 3),
        new(TerminalId, "card acceptor terminal identification", AlphanumericSpecial, Fixed, 8),
        new(CardAcceptorId, "card acceptor identification code", AlphanumericSpecial, Fixed, 15),
        new(CardAcceptorNameLocation, "card acceptor name/location", AlphanumericSpecial, Fixed, 40),
        new(44, "additional response data", AlphanumericSpecial, LlVar, 25),
        new(46, "additional data (ISO)", AlphanumericSpecial, LllVar, 999),
        new(47, "additional data (national)", AlphanumericSpecial, LllVar, 999),
        new(48, "additional data (private)", AlphanumericSpecial, LllVar, 999),
        new(CurrencyCode, "currency code, transaction", Numeric, Fixed, 3),
        new(50, "currency code, settlement", Alphanumeric, Fixed, 3),
        new(51, "currency code, cardholder billing", Alphanumeric, Fixed, 3),
        new(54, "additional amounts", AlphanumericSpecial, LllVar, 120),
        new(56, "reserved (ISO)", AlphanumericSpecial, LllVar, 999),
        new(57, "reserved (national)", AlphanumericSpecial, LllVar, 999),
        new(58, "reserved (national)", AlphanumericSpecial, LllVar, 999),
        new(59, "reserved (national)", AlphanumericSpecial, LllVar, 999),
        new(60, "reserved (national)", AlphanumericSpecial, LllVar, 999),
        new(61, "reserved (private)", AlphanumericSpecial, LllVar, 999),
        new(62, "reserved (private)", AlphanumericSpecial, LllVar, 999),
        new(63, "reserved (private)", AlphanumericSpecial, LllVar, 999),
        new(NetworkManagementCode, "network management information code", Numeric, Fixed, 3),
        new(OriginalDataElements, "original data elements", Numeric, Fixed, 42),
        new(100, "receiving institution identification code", Numeric, LlVar, 11),
        new(102, "account identification 1", AlphanumericSpecial, LlVar, 28),
        new(103, "account identification 2", AlphanumericSpecial, LlVar, 28),
        new(123, "reserved (private)", AlphanumericSpecial, LllVar, 999),
        new(124, "reserved (private)", AlphanumericSpecial, LllVar, 999),
        new(125, "reserved (private)", AlphanumericSpecial, LllVar, 999),
        new(126, "reserved (private)", AlphanumericSpecial, LllVar, 999),
        new(127, "reserved (private)", AlphanumericSpecial, LllVar, 999),
    ]);

    /// <summary>Every supported data element, in field-number order.</summary>
    public static IReadOnlyList<Iso8583FieldSpec> Specs { get; } = [.. Table.OfType<Iso8583FieldSpec>()];

    /// <summary>The definition of a field, or null when the codec does not support it.</summary>
    public static Iso8583FieldSpec? Find(int fieldNumber) =>
        (uint)fieldNumber < (uint)Table.Length ? Table[fieldNumber] : null;

    /// <summary>The definition of a field; a field the codec does not know is a format error naming it.</summary>
    public static Iso8583FieldSpec Get(int fieldNumber) =>
        Find(fieldNumber) ?? throw ThrowHelper.UnsupportedField(fieldNumber);

    private static Iso8583FieldSpec?[] CreateTable(Iso8583FieldSpec[] specs)
    {
        var table = new Iso8583FieldSpec?[Iso8583Limits.FieldNumberMax + 1];
        foreach (var spec in specs)
        {
            // A bad row is a programmer error: fail at type initialisation, not on the wire.
            var lengthMax = spec.LengthKind switch
            {
                LlVar => 99,
                LllVar => 999,
                _ => int.MaxValue,
            };
            var contentLength = spec.Content switch
            {
                MonthDayTime => 10,
                Time => 6,
                MonthDay or YearMonth => 4,
                _ => spec.MaxLength,
            };
            var valid = spec.Number is >= 2 and <= Iso8583Limits.FieldNumberMax
                && spec.Number != TertiaryBitmap
                && table[spec.Number] is null
                && spec.MaxLength >= 1 && spec.MaxLength <= lengthMax
                && (spec.Content == Any || (spec.Format == Numeric && spec.LengthKind == Fixed && spec.MaxLength == contentLength));
            if (!valid)
            {
                throw new InvalidOperationException($"The ISO 8583 field table row for field {spec.Number} is invalid.");
            }

            table[spec.Number] = spec;
        }

        return table;
    }
}
