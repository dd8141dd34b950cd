namespace Bulwark.Iso8583.Tests;

public sealed class RoundTripTests
{
    public static TheoryData<string> AllMtis() => [.. MessageTypeIndicator.Known.Select(mti => mti.ToString())];

    public static TheoryData<int> AllFields() => [.. Iso8583Fields.Specs.Select(spec => spec.Number)];

    [Theory]
    [MemberData(nameof(AllMtis))]
    public void BuildParse_EveryFieldUnderEveryMti_GivesEqualMessage(string mtiText)
    {
        var mti = MessageTypeIndicator.Parse(mtiText);
        var builder = new Iso8583MessageBuilder(mti);
        foreach (var (number, value) in TestMessages.SampleValues)
        {
            builder.Set(number, value);
        }

        var bytes = builder.ToArray();
        var message = Iso8583Message.Parse(bytes);

        Assert.Equal(mti, message.Mti);
        Assert.Equal(TestMessages.SampleValues.Count, message.FieldCount);
        foreach (var (number, value) in TestMessages.SampleValues)
        {
            Assert.Equal(value, message.GetString(number));
        }

        Assert.Equal(bytes, Rebuild(message));
    }

    [Theory]
    [MemberData(nameof(AllFields))]
    public void BuildParse_SingleField_GivesEqualField(int number)
    {
        var value = TestMessages.SampleValues[number];
        var bytes = new Iso8583MessageBuilder(MessageTypeIndicator.AuthorizationRequest).Set(number, value).ToArray();

        var message = Iso8583Message.Parse(bytes);

        var present = Assert.Single(Numbers(message));
        Assert.Equal(number, present);
        Assert.Equal(value, message.GetString(number));
        Assert.Equal(number > 64, (bytes[4] & 0x80) != 0);
    }

    [Fact]
    public void BuildParse_TypedHelpers_ReturnWhatWasSet()
    {
        var original = new Iso8583OriginalDataElements(MessageTypeIndicator.AuthorizationRequest, 42, "1122143015", 123456, 0);
        var message = Iso8583Message.Parse(new Iso8583MessageBuilder(MessageTypeIndicator.ReversalRequest)
            .Set(Iso8583Fields.Amount, 999_999_999_999)
            .Set(Iso8583Fields.SystemsTraceAuditNumber, 999_999)
            .Set(Iso8583Fields.CurrencyCode, 978)
            .Set(Iso8583Fields.RetrievalReferenceNumber, "ABC123")
            .Set(Iso8583Fields.OriginalDataElements, original.Format())
            .ToArray());

        Assert.Equal(999_999_999_999, message.GetAmount());
        Assert.Equal(999_999, message.GetSystemsTraceAuditNumber());
        Assert.Equal("978", message.GetCurrencyCode());
        Assert.Equal("ABC123      ", message.GetRetrievalReferenceNumber());
        Assert.Equal(original, message.GetOriginalDataElements());
    }

    internal static List<int> Numbers(Iso8583Message message)
    {
        var numbers = new List<int>();
        foreach (var number in message.Fields)
        {
            numbers.Add(number);
        }

        return numbers;
    }

    internal static byte[] Rebuild(Iso8583Message message)
    {
        var builder = new Iso8583MessageBuilder(message.Mti);
        foreach (var number in message.Fields)
        {
            builder.CopyFrom(message, number);
        }

        return builder.ToArray();
    }
}
