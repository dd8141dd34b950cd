using System.Globalization;
using Bulwark.Edge.BankStatus;
using Bulwark.Edge.Staff.Ops;
using Bulwark.Platform.Registry;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Tests.Staff.Ops;

/// <summary>The ops monitor's automatic banner: set when the card processors go into stand-in, cleared when they recover, never over a staff member's banner.</summary>
public sealed class AutomaticBannerTests
{
    private static readonly OpsOptions Fast = new()
    {
        ProbeTimeout = TimeSpan.FromMilliseconds(500),
        SampleInterval = TimeSpan.FromMilliseconds(200),
        SeriesWindow = TimeSpan.FromMinutes(5),
    };

    [Fact]
    public async Task Monitor_CardsInStandIn_SetsTheAutomaticBanner_AndClearsItOnRecovery()
    {
        var cards = new FakeCardProcessor();
        await using var host = await OpsHost.StartAsync(Fast, services => services.AddSingleton<IOpsInstanceProbe>(cards));
        await using var registration = await host.Registry.RegisterAsync(new ServiceInstance("cards", "cards-fake", FakeCardProcessor.Address, "v-test"), CancellationToken.None);

        cards.StandIn = true;
        await OpsHost.WaitUntilAsync(async () => (await host.BannerMessageAsync())?.Contains("Card payments", StringComparison.Ordinal) == true, "the automatic banner");
        var stored = StatusBanner.Parse((await host.ConfigClient().GetAsync(new Config.Protos.GetRequest { Key = StatusBanner.Key })).Entry.Value);
        Assert.Equal(StatusBanner.Automatic, stored.Source);

        cards.StandIn = false;
        await OpsHost.WaitUntilAsync(async () => await host.BannerMessageAsync() is null, "the automatic banner to clear on recovery");
        var entry = (await host.ConfigClient().GetAsync(new Config.Protos.GetRequest { Key = StatusBanner.Key })).Entry;
        Assert.True(entry.Deleted);
        Assert.Contains(AutomaticBanner.Actor, entry.ChangedBy, StringComparison.Ordinal);
        // The monitor's own actions are in the configuration history, not the staff audit log.
        Assert.Empty(host.Audit.Entries);
    }

    [Fact]
    public async Task Monitor_StaffBannerInPlace_IsNeitherOverwrittenWhenDegradedNorClearedOnRecovery()
    {
        var cards = new FakeCardProcessor();
        await using var host = await OpsHost.StartAsync(Fast, services => services.AddSingleton<IOpsInstanceProbe>(cards));
        await using var registration = await host.Registry.RegisterAsync(new ServiceInstance("cards", "cards-fake", FakeCardProcessor.Address, "v-test"), CancellationToken.None);
        var token = await host.LoginAsync(OpsStaff.Operations);
        using (var set = await host.StaffAsync(HttpMethod.Put, "/staff/api/ops/banner", token, new { level = "info", message = "Planned maintenance tonight." }))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, set.StatusCode);
        }

        cards.StandIn = true;
        await OpsHost.WaitUntilAsync(() => Task.FromResult(cards.Probes > 10), "the monitor to sample the degraded bank");
        Assert.Equal("Planned maintenance tonight.", await host.BannerMessageAsync());
        cards.StandIn = false;
        var probes = cards.Probes;
        await OpsHost.WaitUntilAsync(() => Task.FromResult(cards.Probes > probes + OpsLimits.HealthySamplesBeforeClear + 3), "the monitor to sample the recovered bank");
        Assert.Equal("Planned maintenance tonight.", await host.BannerMessageAsync());
    }

    [Fact]
    public async Task Monitor_CellRefusingPartitionsBehindTheLog_AlertsInTheOverview_AndSetsTheBanner()
    {
        var ledger = new FakeLedgerCell();
        await using var host = await OpsHost.StartAsync(Fast, services => services.AddSingleton<IOpsInstanceProbe>(ledger));
        await using var registration = await host.Registry.RegisterAsync(new ServiceInstance("ledger", "ledger-1", FakeLedgerCell.Address, "v-test"), CancellationToken.None);
        var token = await host.LoginAsync(OpsStaff.Operations);

        ledger.BehindLog = 3;
        await OpsHost.WaitUntilAsync(async () => (await host.BannerMessageAsync())?.Contains("Payments", StringComparison.Ordinal) == true, "the automatic banner");
        using var response = await host.StaffAsync(HttpMethod.Get, "/staff/api/ops/overview", token);
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var cell = Assert.Single(json.RootElement.GetProperty("eventLog").GetProperty("cells").EnumerateArray());
        Assert.Equal(("b", 3), (cell.GetProperty("cell").GetString(), cell.GetProperty("partitionsBehindLog").GetInt32()));
        var alert = Assert.Single(json.RootElement.GetProperty("alerts").EnumerateArray(), a => a.GetProperty("name").GetString() == "BulwarkPartitionsBehindLog");
        Assert.StartsWith("cell b refuses 3 partition(s): its store is behind the event log", alert.GetProperty("summary").GetString(), StringComparison.Ordinal);

        // Rebuilt from the log and started again: the gauge is 0, the alert and the banner go.
        ledger.BehindLog = 0;
        await OpsHost.WaitUntilAsync(async () => await host.BannerMessageAsync() is null, "the automatic banner to clear");
        // (The overview shares a round of probes for 2 s: asked until a round after the change.)
        await OpsHost.WaitUntilAsync(async () =>
        {
            using var after = await host.StaffAsync(HttpMethod.Get, "/staff/api/ops/overview", token);
            using var afterJson = System.Text.Json.JsonDocument.Parse(await after.Content.ReadAsStringAsync());
            return !afterJson.RootElement.GetProperty("alerts").EnumerateArray().Any(a => a.GetProperty("name").GetString() == "BulwarkPartitionsBehindLog");
        }, "the alert to go from the overview");
    }

    /// <summary>A ledger cell's relay metrics: not lagging, and refusing <see cref="BehindLog"/> partitions.</summary>
    private sealed class FakeLedgerCell : IOpsInstanceProbe
    {
        public const string Address = "127.0.0.1:7";

        public volatile int BehindLog;

        public Task<InstanceProbeResult> ProbeAsync(string service, string address, bool readMetrics, TimeSpan timeout, CancellationToken cancellationToken)
        {
            if (address != Address)
            {
                return Task.FromResult(new InstanceProbeResult(InstanceProbeResult.Serving, null, [], null));
            }
            var text = string.Create(CultureInfo.InvariantCulture, $$"""
                # TYPE bulwark_ledger_events_lag_seconds gauge
                bulwark_ledger_events_lag_seconds{cell="b"} 0.02
                bulwark_ledger_events_lag{cell="b"} 1
                bulwark_ledger_partitions_behind_log{cell="b"} {{BehindLog}}
                """);
            return Task.FromResult(new InstanceProbeResult(InstanceProbeResult.Serving, null, PrometheusSamples.Parse(text, OpsMetricNames.Wanted), null));
        }
    }

    /// <summary>A card processor's metrics: its stand-in counter grows at every probe while <see cref="StandIn"/> is set.</summary>
    private sealed class FakeCardProcessor : IOpsInstanceProbe
    {
        public const string Address = "127.0.0.1:9";

        private long _standIns;
        private long _decisions;
        private int _probes;

        public volatile bool StandIn;

        public int Probes => Volatile.Read(ref _probes);

        public Task<InstanceProbeResult> ProbeAsync(string service, string address, bool readMetrics, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _probes);
            if (address != Address)
            {
                return Task.FromResult(new InstanceProbeResult(InstanceProbeResult.Serving, null, [], null));
            }
            var decisions = Interlocked.Add(ref _decisions, 20);
            var standIns = StandIn ? Interlocked.Add(ref _standIns, 10) : Interlocked.Read(ref _standIns);
            var text = string.Create(CultureInfo.InvariantCulture, $$"""
                # TYPE bulwark_cards_decisions_total counter
                bulwark_cards_decisions_total{mti="0110",code="00"} {{decisions}}
                bulwark_cards_decisions_total{mti="0110",code="51"} 3
                bulwark_cards_stand_in_total{code="00"} {{standIns}}
                """);
            return Task.FromResult(new InstanceProbeResult(InstanceProbeResult.Serving, null, PrometheusSamples.Parse(text, OpsMetricNames.Wanted), null));
        }
    }
}
