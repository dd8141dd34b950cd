using System.Buffers;
using static Bulwark.Iso8583.Tests.TestMessages;

namespace Bulwark.Iso8583.Tests;

public sealed class Iso8583MessageBuilderTests
{
    [Fact]
    public void Set_ShortFixedValues_PadsNumericWithZerosAndTextWithSpaces()
    {
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationResponse)
            .Set(Iso8583Fields.Amount, 1234)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, "42")
            .Set(Iso8583Fields.AuthorizationIdResponse, "AB1")
            .Set(Iso8583Fields.TerminalId, "T1");

        var message = Iso8583Message.Parse(builder.ToArray());

        Assert.Equal("000000001234", message.GetString(Iso8583Fields.Amount));
        Assert.Equal("000042", message.GetString(Iso8583Fields.SystemsTraceAuditNumber));
        Assert.Equal("AB1   ", message.GetString(Iso8583Fields.AuthorizationIdResponse));
        Assert.Equal("T1      ", message.GetString(Iso8583Fields.TerminalId));
    }

    [Fact]
    public void Set_VariableValue_WritesLengthPrefixWithoutPadding()
    {
        var bytes = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest)
            .Set(Iso8583Fields.AcquiringInstitutionId, "123456")
            .ToArray();

        Assert.Equal(Raw("0100", Bit(32), null, "06123456"), bytes);
    }

    [Fact]
    public void Set_DateTime_FormatsPerFieldContent()
    {
        var moment = new DateTime(2028, 12, 5, 7, 8, 9, DateTimeKind.Utc);
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest)
            .Set(Iso8583Fields.TransmissionDateTime, moment)
            .Set(Iso8583Fields.LocalTime, moment)
            .Set(Iso8583Fields.LocalDate, moment)
            .Set(Iso8583Fields.ExpiryDate, moment);

        Assert.Equal("1205070809", Ascii(builder.GetField(7)));
        Assert.Equal("070809", Ascii(builder.GetField(12)));
        Assert.Equal("1205", Ascii(builder.GetField(13)));
        Assert.Equal("2812", Ascii(builder.GetField(14)));
    }

    [Fact]
    public void Set_FieldAbove64_AddsSecondaryBitmap()
    {
        var bytes = new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 1)
            .Set(Iso8583Fields.NetworkManagementCode, Iso8583NetworkManagementCodes.EchoTest)
            .ToArray();

        Assert.Equal(Raw("0800", Bit(1) | Bit(11), Bit(70), "000001" + "301"), bytes);
    }

    [Fact]
    public void Remove_LastFieldAbove64_DropsSecondaryBitmap()
    {
        var bytes = new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.NetworkManagementCode, "001")
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 1)
            .Remove(Iso8583Fields.NetworkManagementCode)
            .ToArray();

        Assert.Equal(Raw("0800", Bit(11), null, "000001"), bytes);
    }

    [Fact]
    public void Set_SameFieldManyTimes_KeepsLastValueAndStaysBounded()
    {
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest)
            .Set(Iso8583Fields.CurrencyCode, "826");
        for (var index = 0; index < 1000; index++)
        {
            builder.Set(Iso8583Fields.CardAcceptorNameLocation, $"Shop {index}");
        }

        var message = Iso8583Message.Parse(builder.ToArray());

        Assert.Equal("Shop 999", message.GetTrimmedString(Iso8583Fields.CardAcceptorNameLocation));
        Assert.Equal("826", message.GetCurrencyCode());
    }

    [Fact]
    public void Reset_ReusedBuilder_StartsEmpty()
    {
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest).Set(Iso8583Fields.Amount, 5);

        builder.Reset(MessageTypeIndicator.NetworkManagementRequest);

        Assert.Equal(Raw("0800", 0, null, ""), builder.ToArray());
        Assert.False(builder.Has(Iso8583Fields.Amount));
    }

    [Fact]
    public void CreateResponse_AuthorizationRequest_CopiesEchoFieldsOnly()
    {
        var request = Iso8583Message.Parse(DocumentedAuthorizationRequest().ToArray());

        var response = Iso8583Message.Parse(Iso8583MessageBuilder.CreateResponse(request)
            .Set(Iso8583Fields.ResponseCode, Iso8583ResponseCodes.Approved)
            .Set(Iso8583Fields.AuthorizationIdResponse, "123456")
            .ToArray());

        Assert.Equal(MessageTypeIndicator.AuthorizationResponse, response.Mti);
        foreach (var number in new[] { 2, 3, 4, 7, 11, 12, 13, 32, 37, 41, 42, 49 })
        {
            Assert.Equal(request.GetString(number), response.GetString(number));
        }

        Assert.False(response.Has(Iso8583Fields.ExpiryDate));
        Assert.False(response.Has(Iso8583Fields.MerchantCategoryCode));
        Assert.False(response.Has(Iso8583Fields.CardAcceptorNameLocation));
        Assert.Equal("00", response.GetResponseCode());
    }

    [Fact]
    public void ResetToResponse_EchoRequest_Gives0810WithField70()
    {
        var request = Iso8583Message.Parse(new Iso8583MessageBuilder(MessageTypeIndicator.NetworkManagementRequest)
            .Set(Iso8583Fields.TransmissionDateTime, "1122143015")
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 9)
            .Set(Iso8583Fields.NetworkManagementCode, Iso8583NetworkManagementCodes.EchoTest)
            .ToArray());
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest).Set(Iso8583Fields.Amount, 1);

        builder.ResetToResponse(request).Set(Iso8583Fields.ResponseCode, "00");

        Assert.Equal(Raw("0810", Bit(1) | Bit(7) | Bit(11) | Bit(39), Bit(70), "1122143015" + "000009" + "00" + "301"), builder.ToArray());
    }

    [Fact]
    public void CreateResponse_ToAResponse_ThrowsNamingMti()
    {
        var response = Iso8583Message.Parse(Raw("0110", 0, null, ""));

        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583MessageBuilder.CreateResponse(response));

        Assert.Equal(Iso8583ErrorLocation.Mti, error.Location);
    }

    [Fact]
    public void WriteTo_BufferWriterSpanAndFrame_WriteTheSameBytes()
    {
        var builder = DocumentedAuthorizationRequest();
        var expected = builder.ToArray();
        var writer = new ArrayBufferWriter<byte>();
        var frameWriter = new ArrayBufferWriter<byte>();
        var span = new byte[expected.Length + 10];
        var frameSpan = new byte[expected.Length + 2];

        Assert.Equal(expected.Length, builder.GetEncodedLength());
        Assert.Equal(expected.Length, builder.WriteTo(writer));
        Assert.Equal(expected.Length, builder.WriteTo(span));
        Assert.Equal(expected.Length + 2, builder.WriteFrameTo(frameWriter));
        Assert.Equal(expected.Length + 2, builder.WriteFrameTo(frameSpan));
        Assert.Equal(expected, writer.WrittenSpan.ToArray());
        Assert.Equal(expected, span[..expected.Length]);
        Assert.Equal(frameSpan, frameWriter.WrittenSpan.ToArray());
        Assert.Equal(expected, frameSpan[2..]);
        Assert.Equal(expected.Length, (frameSpan[0] << 8) | frameSpan[1]);
    }

    [Fact]
    public void WriteTo_DestinationTooSmall_ThrowsArgumentException()
    {
        var builder = DocumentedAuthorizationRequest();

        Assert.Throws<ArgumentException>(() => builder.WriteTo(new byte[builder.GetEncodedLength() - 1]));
        Assert.Throws<ArgumentException>(() => builder.WriteFrameTo(new byte[builder.GetEncodedLength() + 1]));
    }

    [Theory]
    [InlineData(Iso8583Fields.Amount, "12x4", "field 4: non-numeric character 'x' at offset 2")]
    [InlineData(Iso8583Fields.Amount, "1234567890123", "field 4: length 13 exceeds the fixed length 12")]
    [InlineData(Iso8583Fields.PrimaryAccountNumber, "41111111111111111111", "field 2: variable length 20 exceeds the maximum 19")]
    [InlineData(Iso8583Fields.PrimaryAccountNumber, "", "field 2: variable length 0: an empty field must be left out instead")]
    [InlineData(Iso8583Fields.ResponseCode, "0!", "field 39: non-alphanumeric character '!' at offset 1")]
    [InlineData(Iso8583Fields.CardAcceptorNameLocation, "Café", "field 43: non-ASCII character 'é' at offset 3")]
    [InlineData(Iso8583Fields.TransmissionDateTime, "1332000000", "field 7: month 13 at offset 0 is not 01-12")]
    [InlineData(52, "1", "field 52: data element is not supported by this codec (its length is unknown)")]
    [InlineData(Iso8583Fields.TertiaryBitmap, "1", "field 65: tertiary bitmap is not supported")]
    public void Set_BadValue_ThrowsNamingFieldAndLeavesBuilderUnchanged(int number, string value, string expected)
    {
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest).Set(Iso8583Fields.CurrencyCode, "826");
        var before = builder.ToArray();

        var error = Assert.Throws<Iso8583FormatException>(() => builder.Set(number, value));

        Assert.Equal(expected, error.Message);
        Assert.Equal(before, builder.ToArray());
    }

    [Fact]
    public void SetNumber_NegativeOrTextField_Throws()
    {
        var builder = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest);

        Assert.Equal("field 4: negative value -1", Assert.Throws<Iso8583FormatException>(() => builder.Set(Iso8583Fields.Amount, -1)).Message);
        Assert.Equal("field 4: length 13 exceeds the fixed length 12", Assert.Throws<Iso8583FormatException>(() => builder.Set(Iso8583Fields.Amount, 1_000_000_000_000)).Message);
        Assert.Equal("field 37: is not numeric; set it from text", Assert.Throws<Iso8583FormatException>(() => builder.Set(Iso8583Fields.RetrievalReferenceNumber, 1)).Message);
        Assert.Equal("field 4: holds no date or time", Assert.Throws<Iso8583FormatException>(() => builder.Set(Iso8583Fields.Amount, DateTime.UnixEpoch)).Message);
    }

    [Fact]
    public void Mti_Default_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => new Iso8583MessageBuilder(default));
    }
}
