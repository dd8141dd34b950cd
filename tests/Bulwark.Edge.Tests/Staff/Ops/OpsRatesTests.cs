using Bulwark.Edge.Staff.Ops;

namespace Bulwark.Edge.Tests.Staff.Ops;

public sealed class OpsRatesTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 6, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Between_FirstSample_IsUnknown_NotZero()
    {
        var rates = OpsRates.Between(null, Snapshot(Start, ("10.0.0.1:5000", new OpsCardCounters(100, 10, 5))));

        Assert.Null(rates.StandInsPerSecond);
        Assert.Null(rates.DecisionsPerSecond);
    }

    [Fact]
    public void Between_TwoProcessesOneRestarted_SumsIncreasesCountingTheRestartedFromZero()
    {
        var before = Snapshot(Start, ("10.0.0.1:5000", new OpsCardCounters(100, 10, 5)), ("10.0.0.2:5000", new OpsCardCounters(500, 50, 40)));
        // The second process restarted: its counters went down, so everything it shows is new.
        var after = Snapshot(Start.AddSeconds(10), ("10.0.0.1:5000", new OpsCardCounters(200, 30, 5)), ("10.0.0.2:5000", new OpsCardCounters(50, 10, 20)));

        var rates = OpsRates.Between(before, after);

        Assert.Equal(15.0, rates.DecisionsPerSecond);
        Assert.Equal(3.0, rates.DeclinesPerSecond);
        Assert.Equal(2.0, rates.StandInsPerSecond);
        Assert.Equal(0.2, rates.DeclineRatio!.Value, 6);
    }

    [Fact]
    public void Degradation_StandInOverItsThreshold_SaysCardPayments_AndAHealthyBankSaysNothing()
    {
        var options = new OpsOptions();
        var snapshot = Snapshot(Start);

        Assert.Contains("Card payments", OpsAlerts.Degradation(snapshot, new OpsRates(10, 0, 0.5, 0, 10), options), StringComparison.Ordinal);
        Assert.Null(OpsAlerts.Degradation(snapshot, new OpsRates(10, 0, 0.05, 0, 10), options));
        Assert.Null(OpsAlerts.Degradation(snapshot, OpsRates.Unknown, options));
    }

    private static OpsSnapshot Snapshot(DateTimeOffset at, params (string Address, OpsCardCounters Cards)[] cards) =>
        new(at, 0.01, null, [], new OpsPlacement("unknown", "test", null, null, null, []), [], "unknown", [], "unknown",
            cards.ToDictionary(card => card.Address, card => card.Cards, StringComparer.Ordinal), new Dictionary<string, double>(StringComparer.Ordinal), null);
}
