namespace Bulwark.Coherence.Tests;

public sealed class CoherenceOptionsTests
{
    [Fact]
    public void FromEnvironment_Unset_IsTheDefaults()
    {
        var options = CoherenceOptions.FromEnvironment(null);

        Assert.Equal(TimeSpan.FromSeconds(CoherenceLimits.IntervalSecondsDefault), options.Interval);
        options.Validate();
    }

    [Fact]
    public void FromEnvironment_OneSecond_ShrinksTheBudgetBelowTheInterval()
    {
        var options = CoherenceOptions.FromEnvironment("1");

        Assert.Equal(TimeSpan.FromSeconds(1), options.Interval);
        Assert.True(options.CellBudget < options.Interval);
        options.Validate();
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("5s")]
    [InlineData("3601")]
    public void FromEnvironment_BadValue_FailsNamingTheVariable(string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => CoherenceOptions.FromEnvironment(value));

        Assert.Contains(CoherenceOptions.IntervalVariable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BudgetNotBelowInterval_Throws()
    {
        var options = new CoherenceOptions { Interval = TimeSpan.FromSeconds(2), CellBudget = TimeSpan.FromSeconds(2) };

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
    }
}
