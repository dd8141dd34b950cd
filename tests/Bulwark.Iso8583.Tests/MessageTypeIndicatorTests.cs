using System.Text;

namespace Bulwark.Iso8583.Tests;

public sealed class MessageTypeIndicatorTests
{
    [Theory]
    [InlineData("0100", "0110")]
    [InlineData("0120", "0130")]
    [InlineData("0400", "0410")]
    [InlineData("0420", "0430")]
    [InlineData("0800", "0810")]
    public void ToResponse_Request_IsItsResponse(string request, string response)
    {
        var mti = MessageTypeIndicator.Parse(request);

        Assert.True(mti.IsRequest);
        Assert.Equal(response, mti.ToResponse().ToString());
        Assert.False(mti.ToResponse().IsRequest);
    }

    [Theory]
    [InlineData("0110")]
    [InlineData("0430")]
    [InlineData("0810")]
    public void ToResponse_Response_ThrowsNamingMti(string response)
    {
        var error = Assert.Throws<Iso8583FormatException>(() => MessageTypeIndicator.Parse(response).ToResponse());

        Assert.Equal(Iso8583ErrorLocation.Mti, error.Location);
        Assert.Equal($"MTI: {response} is a response and has no response of its own", error.Message);
    }

    [Fact]
    public void ToResponse_Default_Throws()
    {
        Assert.False(default(MessageTypeIndicator).IsRequest);
        Assert.Throws<Iso8583FormatException>(() => default(MessageTypeIndicator).ToResponse());
    }

    [Fact]
    public void Parse_Digits_ExposesVersionClassFunctionOrigin()
    {
        var mti = MessageTypeIndicator.Parse("0420"u8);

        Assert.Equal((0, 4, 2, 0), (mti.Version, mti.Class, mti.Function, mti.Origin));
        Assert.True(mti.IsAdvice);
        Assert.Equal(MessageTypeIndicator.ReversalAdvice, mti);
    }

    [Theory]
    [InlineData("0200")]
    [InlineData("1100")]
    [InlineData("0101")]
    [InlineData("9999")]
    public void Parse_UnknownMti_ThrowsNamingIt(string text)
    {
        var error = Assert.Throws<Iso8583FormatException>(() => MessageTypeIndicator.Parse(Encoding.ASCII.GetBytes(text)));

        Assert.Equal(Iso8583ErrorLocation.Mti, error.Location);
        Assert.Equal($"MTI: unknown message type {text}", error.Message);
    }

    [Fact]
    public void Parse_NonDigit_ThrowsWithCharacterAndOffset()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => MessageTypeIndicator.Parse("01A0"u8));

        Assert.Equal("MTI: non-numeric character 'A' at offset 2", error.Message);
    }

    [Fact]
    public void Parse_TooShort_Throws()
    {
        var error = Assert.Throws<Iso8583FormatException>(() => MessageTypeIndicator.Parse("010"u8));

        Assert.Equal("MTI: truncated: needs 4 bytes, 3 remain", error.Message);
    }

    [Theory]
    [InlineData("100")]
    [InlineData("01000")]
    [InlineData("01é0")]
    public void ParseText_NotFourAsciiDigits_Throws(string text)
    {
        var error = Assert.Throws<Iso8583FormatException>(() => MessageTypeIndicator.Parse(text));

        Assert.Equal(Iso8583ErrorLocation.Mti, error.Location);
    }

    [Fact]
    public void Known_EveryValue_RoundTripsThroughAscii()
    {
        Span<byte> ascii = stackalloc byte[4];
        foreach (var mti in MessageTypeIndicator.Known)
        {
            mti.WriteTo(ascii);

            Assert.Equal(mti, MessageTypeIndicator.Parse(ascii));
            Assert.Equal(mti.ToString(), Encoding.ASCII.GetString(ascii));
        }

        Assert.Equal(10, MessageTypeIndicator.Known.Count);
    }
}
