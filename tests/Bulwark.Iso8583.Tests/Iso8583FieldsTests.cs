namespace Bulwark.Iso8583.Tests;

public sealed class Iso8583FieldsTests
{
    [Theory]
    [InlineData(2, Iso8583FieldFormat.Numeric, Iso8583LengthKind.LlVar, 19)]
    [InlineData(3, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 6)]
    [InlineData(4, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 12)]
    [InlineData(7, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 10)]
    [InlineData(11, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 6)]
    [InlineData(12, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 6)]
    [InlineData(13, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 4)]
    [InlineData(14, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 4)]
    [InlineData(18, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 4)]
    [InlineData(22, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 3)]
    [InlineData(32, Iso8583FieldFormat.Numeric, Iso8583LengthKind.LlVar, 11)]
    [InlineData(37, Iso8583FieldFormat.Alphanumeric, Iso8583LengthKind.Fixed, 12)]
    [InlineData(38, Iso8583FieldFormat.Alphanumeric, Iso8583LengthKind.Fixed, 6)]
    [InlineData(39, Iso8583FieldFormat.Alphanumeric, Iso8583LengthKind.Fixed, 2)]
    [InlineData(41, Iso8583FieldFormat.AlphanumericSpecial, Iso8583LengthKind.Fixed, 8)]
    [InlineData(42, Iso8583FieldFormat.AlphanumericSpecial, Iso8583LengthKind.Fixed, 15)]
    [InlineData(43, Iso8583FieldFormat.AlphanumericSpecial, Iso8583LengthKind.Fixed, 40)]
    [InlineData(49, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 3)]
    [InlineData(70, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 3)]
    [InlineData(90, Iso8583FieldFormat.Numeric, Iso8583LengthKind.Fixed, 42)]
    public void Get_SupportedField_HasIsoDefinition(int number, Iso8583FieldFormat format, Iso8583LengthKind lengthKind, int maxLength)
    {
        var spec = Iso8583Fields.Get(number);

        Assert.Equal((number, format, lengthKind, maxLength), (spec.Number, spec.Format, spec.LengthKind, spec.MaxLength));
    }

    [Fact]
    public void Specs_All_AreInFieldOrderAndHaveSampleValues()
    {
        var numbers = Iso8583Fields.Specs.Select(spec => spec.Number).ToList();

        Assert.Equal(numbers.Order(), numbers);
        Assert.Equal(numbers, TestMessages.SampleValues.Keys.Order());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(52)]
    [InlineData(65)]
    [InlineData(128)]
    public void Get_UnsupportedField_ThrowsNamingField(int number)
    {
        var error = Assert.Throws<Iso8583FormatException>(() => Iso8583Fields.Get(number));

        Assert.Equal(number, error.FieldNumber);
        Assert.Null(Iso8583Fields.Find(number));
    }

    [Fact]
    public void ResponseEcho_EveryField_IsSupportedAndNotTheResponseItself()
    {
        foreach (var number in Iso8583Fields.ResponseEcho)
        {
            Assert.NotNull(Iso8583Fields.Find(number));
            Assert.NotEqual(Iso8583Fields.ResponseCode, number);
            Assert.NotEqual(Iso8583Fields.AuthorizationIdResponse, number);
            Assert.NotEqual(Iso8583Fields.ExpiryDate, number);
        }
    }

    [Fact]
    public void Codes_NamedConstants_HaveIsoValues()
    {
        Assert.Equal(
            ["00", "05", "12", "13", "14", "30", "51", "54", "57", "61", "62", "91", "94", "96"],
            [
                Iso8583ResponseCodes.Approved, Iso8583ResponseCodes.DoNotHonour, Iso8583ResponseCodes.InvalidTransaction,
                Iso8583ResponseCodes.InvalidAmount, Iso8583ResponseCodes.InvalidCardNumber, Iso8583ResponseCodes.FormatError,
                Iso8583ResponseCodes.InsufficientFunds, Iso8583ResponseCodes.ExpiredCard,
                Iso8583ResponseCodes.TransactionNotPermittedToCardholder, Iso8583ResponseCodes.ExceedsWithdrawalLimit,
                Iso8583ResponseCodes.RestrictedCard, Iso8583ResponseCodes.IssuerUnavailable,
                Iso8583ResponseCodes.DuplicateTransmission, Iso8583ResponseCodes.SystemMalfunction,
            ]);
        Assert.Equal(
            ["001", "002", "301"],
            [Iso8583NetworkManagementCodes.SignOn, Iso8583NetworkManagementCodes.SignOff, Iso8583NetworkManagementCodes.EchoTest]);
    }
}
