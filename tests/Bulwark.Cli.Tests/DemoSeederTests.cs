using Bulwark.Cli.Demo;

namespace Bulwark.Cli.Tests;

public sealed class DemoSeederTests
{
    [Theory]
    [InlineData(42, 0)]
    [InlineData(42, 999)]
    [InlineData(7, 123_456)]
    public void DemoPan_AnyCustomer_IsSixteenDigitsAndLuhnValid(int seed, int index)
    {
        var pan = DemoSeeder.DemoPan(seed, index);

        Assert.Equal(16, pan.Length);
        Assert.All(pan, c => Assert.True(char.IsAsciiDigit(c)));
        Assert.True(LuhnValid(pan));
    }

    [Fact]
    public void DemoPan_DifferentCustomers_Differ()
    {
        var pans = Enumerable.Range(0, 1_000).Select(i => DemoSeeder.DemoPan(42, i)).ToHashSet();

        Assert.Equal(1_000, pans.Count);
    }

    [Fact]
    public void Deterministic_SameInputs_SameIdAndDistinctSteps()
    {
        Assert.Equal(LedgerIds.Deterministic(42, 5, 1), LedgerIds.Deterministic(42, 5, 1));
        Assert.NotEqual(LedgerIds.Deterministic(42, 5, 1), LedgerIds.Deterministic(42, 5, 2));
        Assert.NotEqual(LedgerIds.Deterministic(42, 5, 1), LedgerIds.Deterministic(42, 6, 1));
        Assert.NotEqual(LedgerIds.Deterministic(42, 5, 1), LedgerIds.Deterministic(43, 5, 1));
    }

    [Fact]
    public void Hex_RoundTripsThroughProto()
    {
        var id = LedgerIds.Deterministic(42, 77, 3);

        Assert.Equal(32, id.ToHex().Length);
        Assert.Equal(id, LedgerIds.ProtoFromHex(id.ToHex()).FromProto());
    }

    private static bool LuhnValid(string digits)
    {
        var sum = 0;
        for (var i = 0; i < digits.Length; i++)
        {
            var digit = digits[digits.Length - 1 - i] - '0';
            if (i % 2 == 1)
            {
                digit = digit * 2 > 9 ? (digit * 2) - 9 : digit * 2;
            }
            sum += digit;
        }
        return sum % 10 == 0;
    }
}
