using Bulwark.Edge.Throttling;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Edge.Tests.Throttling;

public sealed class FailureBudgetTests
{
    [Fact]
    public void Spend_AsManyAsTheBudget_ExhaustedUntilOneRefills()
    {
        var time = new FakeTimeProvider();
        using var budget = new FailureBudget(3, TimeSpan.FromMinutes(15), time);

        budget.Spend("a");
        budget.Spend("a");
        Assert.Null(budget.Exhausted("a"));
        budget.Spend("a");

        Assert.Equal(TimeSpan.FromMinutes(5), budget.Exhausted("a"));
        Assert.Null(budget.Exhausted("b"));
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(TimeSpan.FromMinutes(1), budget.Exhausted("a"));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(budget.Exhausted("a"));
    }

    [Fact]
    public void Exhausted_NoTimePasses_NeverRefillsByItself()
    {
        var time = new FakeTimeProvider();
        using var budget = new FailureBudget(1, TimeSpan.FromHours(1), time);
        budget.Spend("customer");

        for (var i = 0; i < 1_000; i++)
        {
            Assert.NotNull(budget.Exhausted("customer"));
        }
    }

    [Fact]
    public void Spend_FullWindowLater_RefilledOnlyUpToTheBudget()
    {
        var time = new FakeTimeProvider();
        using var budget = new FailureBudget(2, TimeSpan.FromMinutes(10), time);
        budget.Spend("a");
        time.Advance(TimeSpan.FromHours(5));

        budget.Spend("a");
        budget.Spend("a");

        Assert.NotNull(budget.Exhausted("a"));
    }
}
