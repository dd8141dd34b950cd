using System.Text;

namespace Bulwark.Iso8583.Tests;

public sealed class Iso8583OriginalDataElementsTests
{
    [Fact]
    public void Format_Parts_Gives42DigitsInIsoOrder()
    {
        var elements = new Iso8583OriginalDataElements(MessageTypeIndicator.AuthorizationRequest, 42, "1122143015", 123456, 7);

        Assert.Equal("0100" + "000042" + "1122143015" + "00000123456" + "00000000007", elements.Format());
    }

    [Fact]
    public void From_Request_TakesMtiStanTimeAndAcquirer()
    {
        var request = Iso8583Message.Parse(TestMessages.DocumentedAuthorizationRequest().ToArray());

        var elements = Iso8583OriginalDataElements.From(request);

        Assert.Equal(new Iso8583OriginalDataElements(MessageTypeIndicator.AuthorizationRequest, 42, "1122143015", 123456, 0), elements);
    }

    [Theory]
    [InlineData("0200000042112214301500000123456000000000007", "field 90: length 43 is not 42")]
    [InlineData("020000004211221430150000012345600000000000", "field 90: original MTI: unknown message type 0200")]
    [InlineData("010000004213221430150000012345600000000000", "field 90: original transmission date and time: month 13 at offset 0 is not 01-12")]
    [InlineData("01000000421122143015000001234560000000000x", "field 90: non-numeric character 'x' at offset 41")]
    public void Parse_Bad_ThrowsNamingField90(string text, string expected)
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583OriginalDataElements.Parse(Encoding.ASCII.GetBytes(text)));

        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void Format_OutOfRangeParts_Throws()
    {
        var mti = MessageTypeIndicator.ReversalRequest;

        Assert.Throws<Iso8583FormatException>(() => new Iso8583OriginalDataElements(mti, 1_000_000, "1122143015", 0, 0).Format());
        Assert.Throws<Iso8583FormatException>(() => new Iso8583OriginalDataElements(mti, 1, "112214301", 0, 0).Format());
        Assert.Throws<Iso8583FormatException>(() => new Iso8583OriginalDataElements(mti, 1, "1122143015", 100_000_000_000, 0).Format());
        Assert.Throws<Iso8583FormatException>(() => new Iso8583OriginalDataElements(mti, 1, "1199143015", 0, 0).Format());
    }
}
