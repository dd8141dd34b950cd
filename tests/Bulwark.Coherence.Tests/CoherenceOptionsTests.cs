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
    public void FromEnvironment_AppApiAddresses_EachABaseAddressInOrder()
    {
        var options = CoherenceOptions.FromEnvironment("2", " http://127.0.0.1:8080 , https://bank.example/app/ ");

        Assert.Equal([new Uri("http://127.0.0.1:8080/"), new Uri("https://bank.example/app/")], options.AppApi);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Interval);
        options.Validate();
        Assert.Empty(CoherenceOptions.FromEnvironment(null, "").AppApi);
    }

    [Theory]
    [InlineData("127.0.0.1:8080")]
    [InlineData("ftp://bank.example/")]
    [InlineData("http://a/,/relative")]
    public void FromEnvironment_BadAppApiAddress_FailsNamingTheVariable(string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => CoherenceOptions.FromEnvironment(null, value));

        Assert.Contains(CoherenceOptions.AppApiVariable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BudgetNotBelowInterval_Throws()
    {
        var options = new CoherenceOptions { Interval = TimeSpan.FromSeconds(2), CellBudget = TimeSpan.FromSeconds(2) };

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
    }
}
