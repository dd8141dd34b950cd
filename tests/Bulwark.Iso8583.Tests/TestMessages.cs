using System.Buffers.Binary;
using System.Text;

namespace Bulwark.Iso8583.Tests;

/// <summary>Sample messages and hand-made raw bytes for the tests.</summary>
internal static class TestMessages
{
    /// <summary>A valid value for every supported field, at full length where fixed.</summary>
    public static readonly IReadOnlyDictionary<int, string> SampleValues = new Dictionary<int, string>
    {
        [Iso8583Fields.PrimaryAccountNumber] = "4111111111111111",
        [Iso8583Fields.ProcessingCode] = "000000",
        [Iso8583Fields.Amount] = "000000001234",
        [Iso8583Fields.TransmissionDateTime] = "1122143015",
        [Iso8583Fields.SystemsTraceAuditNumber] = "000042",
        [Iso8583Fields.LocalTime] = "153015",
        [Iso8583Fields.LocalDate] = "1122",
        [Iso8583Fields.ExpiryDate] = "2812",
        [Iso8583Fields.MerchantCategoryCode] = "5411",
        [Iso8583Fields.PosEntryMode] = "071",
        [Iso8583Fields.AcquiringInstitutionId] = "12345678901",
        [Iso8583Fields.RetrievalReferenceNumber] = "532614000042",
        [Iso8583Fields.AuthorizationIdResponse] = "A1B2C3",
        [Iso8583Fields.ResponseCode] = "00",
        [Iso8583Fields.TerminalId] = "TERM0001",
        [Iso8583Fields.CardAcceptorId] = "MERCHANT0000001",
        [Iso8583Fields.CardAcceptorNameLocation] = "Corner Shop, 1 High St      London    GB",
        [Iso8583Fields.CurrencyCode] = "826",
        [Iso8583Fields.NetworkManagementCode] = "301",
        [Iso8583Fields.OriginalDataElements] = "010000004211221430150000000123400000000000",
        [5] = "000000001200",
        [6] = "000000001300",
        [8] = "00000100",
        [9] = "61000000",
        [10] = "61000000",
        [15] = "1123",
        [16] = "1122",
        [17] = "1122",
        [19] = "826",
        [20] = "826",
        [21] = "826",
        [23] = "001",
        [24] = "100",
        [25] = "00",
        [26] = "12",
        [27] = "6",
        [33] = "12345",
        [40] = "101",
        [44] = "R=1",
        [46] = "ISO data",
        [47] = "national data",
        [48] = "scheme private data 0123",
        [50] = "826",
        [51] = "978",
        [54] = "0001826C000000001000",
        [56] = "r56",
        [57] = "r57",
        [58] = "r58",
        [59] = "r59",
        [60] = "POS=05|CH=1",
        [61] = "r61",
        [62] = "r62",
        [63] = "NW=VIS;ID=ABC123",
        [100] = "654321",
        [102] = "GB29NWBK60161331926819",
        [103] = "12345678",
        [123] = "r123",
        [124] = "r124",
        [125] = "r125",
        [126] = "r126",
        [127] = "r127",
    };

    /// <summary>The authorisation request that docs/reference/iso8583.md shows in hex.</summary>
    public static Iso8583MessageBuilder DocumentedAuthorizationRequest() =>
        new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest)
            .Set(Iso8583Fields.PrimaryAccountNumber, "4111111111111111")
            .Set(Iso8583Fields.ProcessingCode, "000000")
            .Set(Iso8583Fields.Amount, 1234)
            .Set(Iso8583Fields.TransmissionDateTime, new DateTime(2025, 11, 22, 14, 30, 15, DateTimeKind.Utc))
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 42)
            .Set(Iso8583Fields.LocalTime, "153015")
            .Set(Iso8583Fields.LocalDate, "1122")
            .Set(Iso8583Fields.ExpiryDate, "2812")
            .Set(Iso8583Fields.MerchantCategoryCode, "5411")
            .Set(Iso8583Fields.PosEntryMode, "071")
            .Set(Iso8583Fields.AcquiringInstitutionId, "123456")
            .Set(Iso8583Fields.RetrievalReferenceNumber, "532614000042")
            .Set(Iso8583Fields.TerminalId, "TERM0001")
            .Set(Iso8583Fields.CardAcceptorId, "MERCHANT0000001")
            .Set(Iso8583Fields.CardAcceptorNameLocation, "Corner Shop London GB")
            .Set(Iso8583Fields.CurrencyCode, "826");

    /// <summary>Raw message bytes: MTI, the bitmaps as given, then the field bytes as ASCII.</summary>
    public static byte[] Raw(string mti, ulong primary, ulong? secondary, string fields)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes(mti));
        var bitmap = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bitmap, primary);
        bytes.AddRange(bitmap);
        if (secondary is { } value)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bitmap, value);
            bytes.AddRange(bitmap);
        }

        bytes.AddRange(Encoding.ASCII.GetBytes(fields));
        return [.. bytes];
    }

    /// <summary>The bitmap bit of a field (1-64 in the primary, 65-128 in the secondary).</summary>
    public static ulong Bit(int fieldNumber) => 1UL << (63 - ((fieldNumber - 1) % 64));

    public static string Ascii(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes);
}
