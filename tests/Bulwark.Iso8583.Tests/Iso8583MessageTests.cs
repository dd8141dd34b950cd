using System.Buffers;
using static Bulwark.Iso8583.Tests.TestMessages;

namespace Bulwark.Iso8583.Tests;

public sealed class Iso8583MessageTests
{
    [Fact]
    public void Parse_FixedAndVariableFields_GivesTypedAccess()
    {
        var bytes = Raw("0100", Bit(2) | Bit(4) | Bit(11) | Bit(37) | Bit(39) | Bit(43) | Bit(49), null,
            "164111111111111111" + "000000001234" + "000042" + "532614000042" + "51" + "Corner Shop".PadRight(40) + "978");

        var message = Iso8583Message.Parse(bytes);

        Assert.Equal(MessageTypeIndicator.AuthorizationRequest, message.Mti);
        Assert.Equal("4111111111111111", message.GetPrimaryAccountNumber());
        Assert.Equal(1234, message.GetAmount());
        Assert.Equal(42, message.GetSystemsTraceAuditNumber());
        Assert.Equal("532614000042", message.GetRetrievalReferenceNumber());
        Assert.Equal(Iso8583ResponseCodes.InsufficientFunds, message.GetResponseCode());
        Assert.Equal("Corner Shop", message.GetTrimmedString(Iso8583Fields.CardAcceptorNameLocation));
        Assert.Equal(40, message.GetString(Iso8583Fields.CardAcceptorNameLocation).Length);
        Assert.Equal("978", message.GetCurrencyCode());
        Assert.True(message.FieldEquals(Iso8583Fields.ResponseCode, "51"u8));
        Assert.Equal(7, message.FieldCount);
        Assert.Equal(bytes, message.Bytes.ToArray());
    }

    [Fact]
    public void Fields_SecondaryBitmap_EnumeratesDataElementsInOrder()
    {
        var bytes = Raw("0800", Bit(1) | Bit(7) | Bit(11), Bit(70), "1122143015" + "000001" + "001");

        var message = Iso8583Message.Parse(bytes);
        var numbers = new List<int>();
        foreach (var number in message.Fields)
        {
            numbers.Add(number);
        }

        Assert.Equal([7, 11, 70], numbers);
        Assert.False(message.Has(Iso8583Fields.SecondaryBitmap));
        Assert.Equal(Iso8583NetworkManagementCodes.SignOn, message.GetNetworkManagementCode());
    }

    [Fact]
    public void GetField_Absent_ThrowsRequiredButAbsent()
    {
        var message = Iso8583Message.Parse(Raw("0800", Bit(11), null, "000001"));

        var error = Assert.Throws<Iso8583FormatException>(() => message.GetAmount());

        Assert.Equal("field 4: required but absent", error.Message);
        Assert.False(message.TryGetField(Iso8583Fields.Amount, out _));
        Assert.False(message.TryGetString(Iso8583Fields.Amount, out _));
        Assert.False(message.TryGetInt64(Iso8583Fields.Amount, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(129)]
    public void Has_FieldNumberOutOfRange_ThrowsArgumentOutOfRange(int number)
    {
        var message = Iso8583Message.Parse(Raw("0800", 0, null, ""));

        Assert.Throws<ArgumentOutOfRangeException>(() => message.Has(number));
    }

    [Fact]
    public void GetInt64_TextOrLongField_ThrowsArgumentException()
    {
        var message = Iso8583Message.Parse(Raw("0800", 0, null, ""));

        Assert.Throws<ArgumentException>(() => message.GetInt64(Iso8583Fields.RetrievalReferenceNumber));
        Assert.Throws<ArgumentException>(() => message.GetInt64(Iso8583Fields.PrimaryAccountNumber));
    }

    [Fact]
    public void Parse_Sequence_CopiesSoTheBufferCanBeReused()
    {
        var bytes = Raw("0800", Bit(11), null, "000007");
        var sequence = new ReadOnlySequence<byte>(bytes);

        var message = Iso8583Message.Parse(sequence);
        Array.Clear(bytes);

        Assert.Equal(7, message.GetSystemsTraceAuditNumber());
    }

    [Fact]
    public void ToString_Pan_ShowsOnlyLastFourAndHidesExpiry()
    {
        var message = Iso8583Message.Parse(Raw("0100", Bit(2) | Bit(4) | Bit(14), null, "164111111111111111" + "000000001234" + "2812"));

        Assert.Equal("0100 2=************1111 4=000000001234 14=****", message.ToString());
    }

    // The bad-input cases the wire profile promises to reject, one test each.

    [Fact]
    public void Parse_TruncatedMessage_ThrowsNamingTheCutField()
    {
        var bytes = Raw("0100", Bit(4) | Bit(11), null, "000000001234" + "0000");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal(Iso8583ErrorLocation.Field, error.Location);
        Assert.Equal(11, error.FieldNumber);
        Assert.Equal("field 11: truncated: needs 6 bytes at message offset 24, 4 remain", error.Message);
    }

    [Fact]
    public void Parse_BitmapAnnouncesAbsentField_ThrowsNamingField()
    {
        var bytes = Raw("0100", Bit(4) | Bit(49), null, "000000001234");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal(49, error.FieldNumber);
        Assert.Equal("field 49: announced by the bitmap but absent: the message ends at byte 24", error.Message);
    }

    [Fact]
    public void Parse_NonNumericInNumericField_ThrowsWithCharacterAndOffset()
    {
        var bytes = Raw("0100", Bit(4), null, "000x00001234");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal(4, error.FieldNumber);
        Assert.Equal("non-numeric character 'x' at offset 3", error.Reason);
        Assert.Equal("field 4: non-numeric character 'x' at offset 3", error.Message);
    }

    [Fact]
    public void Parse_VariableLengthAboveMaximum_Throws()
    {
        var bytes = Raw("0100", Bit(2), null, "20" + "41111111111111111111");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal("field 2: variable length 20 exceeds the maximum 19", error.Message);
    }

    [Fact]
    public void Parse_UnknownMti_ThrowsNamingMti()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0200", 0, null, "")));

        Assert.Equal(Iso8583ErrorLocation.Mti, error.Location);
        Assert.Equal("MTI: unknown message type 0200", error.Message);
    }

    [Fact]
    public void Parse_SecondaryBitmapBitSetButMessageTooShort_Throws()
    {
        var bytes = Raw("0800", Bit(1), null, "0000");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal(Iso8583ErrorLocation.SecondaryBitmap, error.Location);
        Assert.Equal("secondary bitmap: announced by bit 1 but truncated: needs 8 bytes at offset 12, 4 remain", error.Message);
    }

    [Fact]
    public void Parse_Field65TertiaryBitmapPresent_ThrowsUnsupported()
    {
        var bytes = Raw("0800", Bit(1), Bit(65) | Bit(70), "00000000" + "001");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal(65, error.FieldNumber);
        Assert.Equal("field 65: tertiary bitmap is not supported", error.Message);
    }

    [Fact]
    public void Parse_TrailingBytesAfterLastField_Throws()
    {
        var bytes = Raw("0800", Bit(11), null, "000001" + "XYZ");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal(Iso8583ErrorLocation.Message, error.Location);
        Assert.Equal("message: 3 trailing bytes after the last field (offset 18)", error.Message);
    }

    [Fact]
    public void Parse_TruncatedPrimaryBitmap_Throws()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse("0800\0\0\0"u8.ToArray()));

        Assert.Equal(Iso8583ErrorLocation.PrimaryBitmap, error.Location);
        Assert.Equal("primary bitmap: truncated: needs 8 bytes at offset 4, 3 remain", error.Message);
    }

    [Fact]
    public void Parse_EmptySecondaryBitmapBuiltByHand_AcceptedAsNoField65To128()
    {
        // An 0800 sign-on as some acquirer stacks send it: bit 1 set, a secondary bitmap of zeros,
        // then fields 7, 11 and 70 would need bit 70, so this one carries 7 and 11 only.
        byte[] bytes =
        [
            0x30, 0x38, 0x30, 0x30, // MTI "0800"
            0x82, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // primary bitmap: bits 1, 7, 11
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // secondary bitmap: present, no field 65-128
            0x31, 0x31, 0x32, 0x32, 0x31, 0x34, 0x33, 0x30, 0x31, 0x35, // field 7 "1122143015"
            0x30, 0x30, 0x30, 0x30, 0x34, 0x32, // field 11 "000042"
        ];

        var message = Iso8583Message.Parse(bytes);

        Assert.Equal(MessageTypeIndicator.NetworkManagementRequest, message.Mti);
        Assert.Equal(42, message.GetSystemsTraceAuditNumber());
        Assert.Equal(2, message.FieldCount);
        Assert.False(message.Has(Iso8583Fields.SecondaryBitmap));
        Assert.False(message.Has(Iso8583Fields.NetworkManagementCode));
    }

    [Fact]
    public void Parse_PrivateAndSettlementFieldsBuiltByHand_ParsedAndSkippedOver()
    {
        // Fields 5 (settlement amount), 48 and 63 (private data, LLLVAR) as another acquirer sends
        // them around Bulwark's own 11 and 49; Bulwark acts on none of the three.
        byte[] bytes =
        [
            0x30, 0x31, 0x30, 0x30, // MTI "0100"
            0x08, 0x20, 0x00, 0x00, 0x00, 0x01, 0x80, 0x02, // primary bitmap: 5, 11, 48, 49, 63
            0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31, 0x32, 0x30, 0x30, // field 5 "000000001200"
            0x30, 0x30, 0x30, 0x30, 0x34, 0x32, // field 11 "000042"
            0x30, 0x30, 0x35, 0x41, 0x42, 0x3d, 0x31, 0x3b, // field 48: length "005", "AB=1;"
            0x38, 0x32, 0x36, // field 49 "826"
            0x30, 0x30, 0x32, 0x5a, 0x39, // field 63: length "002", "Z9"
        ];

        var message = Iso8583Message.Parse(bytes);

        Assert.Equal([5, 11, 48, 49, 63], Numbers(message));
        Assert.Equal(42, message.GetSystemsTraceAuditNumber());
        Assert.Equal("826", message.GetCurrencyCode());
        Assert.Equal("AB=1;", message.GetString(48));
        Assert.Equal("Z9", message.GetString(63));
    }

    private static List<int> Numbers(Iso8583Message message)
    {
        var numbers = new List<int>();
        foreach (var number in message.Fields)
        {
            numbers.Add(number);
        }
        return numbers;
    }

    [Fact]
    public void CreateResponse_FromEmptySecondaryBitmap_LeavesTheSecondaryBitmapOut()
    {
        var request = Iso8583Message.Parse(Raw("0800", Bit(1) | Bit(7) | Bit(11), 0, "1122143015" + "000042"));

        var response = Iso8583MessageBuilder.CreateResponse(request).Set(Iso8583Fields.ResponseCode, "00").ToArray();

        // MTI, one bitmap (bit 1 clear), fields 7, 11 and 39.
        Assert.Equal(4 + 8 + 10 + 6 + 2, response.Length);
        Assert.Equal(0, response[4] & 0x80);
    }

    [Theory]
    [InlineData(52)]
    [InlineData(64)]
    [InlineData(128)]
    public void Parse_UnsupportedFieldInBitmap_ThrowsNamingField(int number)
    {
        var bytes = number <= 64 ? Raw("0100", Bit(number), null, "1") : Raw("0100", Bit(1), Bit(number), "1");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));

        Assert.Equal(number, error.FieldNumber);
        Assert.Equal($"field {number}: data element is not supported by this codec (its length is unknown)", error.Message);
    }

    [Fact]
    public void Parse_NonDigitLengthPrefix_Throws()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0100", Bit(32), null, "1A123")));

        Assert.Equal("field 32: non-numeric character 'A' in the length prefix at offset 1", error.Message);
    }

    [Fact]
    public void Parse_ZeroVariableLength_Throws()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0100", Bit(2), null, "00")));

        Assert.Equal("field 2: variable length 0: an empty field must be left out instead", error.Message);
    }

    [Fact]
    public void Parse_TruncatedLengthPrefix_Throws()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0100", Bit(2), null, "1")));

        Assert.Equal("field 2: truncated: needs 2 bytes at message offset 12, 1 remain", error.Message);
    }

    [Fact]
    public void Parse_NonAlphanumericInAnField_Throws()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0110", Bit(39), null, "0-")));

        Assert.Equal("field 39: non-alphanumeric character '-' at offset 1", error.Message);
    }

    [Fact]
    public void Parse_ControlCharacterInAnsField_ThrowsShowingHex()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0100", Bit(41), null, "TERM\t001")));

        Assert.Equal("field 41: non-printable character 0x09 at offset 4", error.Message);
    }

    [Theory]
    [InlineData(7, "1322143015", "field 7: month 13 at offset 0 is not 01-12")]
    [InlineData(7, "0230143015", "field 7: day 30 at offset 2 is not 01-29 for month 02")]
    [InlineData(7, "1122243015", "field 7: hour 24 at offset 4 is not 00-23")]
    [InlineData(12, "156015", "field 12: minute 60 at offset 2 is not 00-59")]
    [InlineData(12, "153060", "field 12: second 60 at offset 4 is not 00-59")]
    [InlineData(13, "0431", "field 13: day 31 at offset 2 is not 01-30 for month 04")]
    [InlineData(14, "2800", "field 14: month 00 at offset 2 is not 01-12")]
    public void Parse_ImpossibleDateOrTime_Throws(int number, string value, string expected)
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0100", Bit(number), null, value)));

        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void Parse_BadFieldAfterGoodOnes_KeepsGoodOnesForAFormatErrorResponse()
    {
        var bytes = Raw("0100", Bit(4) | Bit(11) | Bit(49), null, "000000001234" + "000042" + "9x8");

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(bytes));
        var response = Iso8583Message.Parse(Iso8583MessageBuilder.CreateResponse(error.PartialMessage!)
            .Set(Iso8583Fields.ResponseCode, Iso8583ResponseCodes.FormatError)
            .ToArray());

        Assert.Equal("field 49: non-numeric character 'x' at offset 1", error.Message);
        Assert.Equal([4, 11], RoundTripTests.Numbers(error.PartialMessage!));
        Assert.Equal("0110 4=000000001234 11=000042 39=30", response.ToString());
    }

    [Fact]
    public void Parse_BadSecondaryBitmap_PartialMessageHasMtiOnly()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0800", Bit(1), null, "")));

        Assert.Equal(MessageTypeIndicator.NetworkManagementRequest, error.PartialMessage!.Mti);
        Assert.Equal(0, error.PartialMessage.FieldCount);
    }

    [Fact]
    public void Parse_BadMti_HasNoPartialMessage()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(Raw("0200", 0, null, "")));

        Assert.Null(error.PartialMessage);
    }

    [Fact]
    public void Parse_EmptyInput_ThrowsNamingMti()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Message.Parse(ReadOnlyMemory<byte>.Empty));

        Assert.Equal(Iso8583ErrorLocation.Mti, error.Location);
    }
}
