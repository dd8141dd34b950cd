using Bulwark.Edge.Staff.Ops;

namespace Bulwark.Edge.Tests.Staff.Ops;

public sealed class PrometheusSamplesTests
{
    [Fact]
    public void Parse_LabelsEscapesAndOddLines_ReadsWhatItCanSkipsTheRest()
    {
        const string text = """
            # HELP bulwark_cards_decisions_total Answers sent.
            # TYPE bulwark_cards_decisions_total counter
            bulwark_cards_decisions_total{mti="0110",code="00",otel_scope_name="Bulwark.Cards"} 12 1733550000000
            bulwark_cards_decisions_total{mti="0110",code="51"} 3
            bulwark_coherence_checks_total{cell="a",check="ledger_read",result="missing",note="say \"hi\"\\"} 1
            bulwark_cards_decisions_total{mti="0110",code="05" 7
            bulwark_cards_stand_in_total not-a-number
            discovery_stale_seconds 0.25
            process_cpu_seconds_total 4
            """;

        var samples = PrometheusSamples.Parse(text, OpsMetricNames.Wanted);

        Assert.Equal(4, samples.Count);
        Assert.Equal(15, samples.Where(s => s.Name == OpsMetricNames.CardDecisions).Sum(s => s.Value));
        Assert.Equal("51", samples[1].Labels["code"]);
        Assert.Equal("say \"hi\"\\", samples[2].Labels["note"]);
        Assert.Equal(0.25, samples.Single(s => s.Name == OpsMetricNames.DiscoveryStaleSeconds).Value);
    }
}
