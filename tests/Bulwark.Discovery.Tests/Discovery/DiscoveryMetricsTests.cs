using System.Net;
using System.Text.RegularExpressions;
using Bulwark.Discovery.Tests.Chain;
using Bulwark.Discovery.Tests.Fixtures;

namespace Bulwark.Discovery.Tests.Discovery;

/// <summary>
/// Item 2 of the 2017 lesson: a process restarted while garbage sits in etcd still reports the
/// garbage on its first scrape (its exporter starts after the records were read), so the R1
/// alert does not go quiet after a restart.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed partial class DiscoveryMetricsTests
{
    [Fact]
    public async Task Metrics_ProcessStartedWhileGarbageInEtcd_ReportsSkippedAndUnusableRecords()
    {
        await using var etcd = await EtcdTestCluster.StartAsync(1);
        var prefix = $"/bulwark-test-{Guid.NewGuid():N}/";
        await etcd.EtcdctlAsync($"put {prefix}services/beta/broken null");
        await etcd.EtcdctlAsync($"put {prefix}services/beta/torn {{not-json");

        await using var restarted = await TestProcess.StartAsync("alpha", TestProcess.Options(etcd.ClientUrls, prefix, "alpha-restarted"));
        var metrics = await ScrapeAsync(restarted.Port);

        Assert.Equal(1, Value(metrics, "discovery_records_unusable", "alpha-restarted", "Null"));
        Assert.Equal(1, Value(metrics, "discovery_records_unusable", "alpha-restarted", "Malformed"));
        Assert.Equal(1, Value(metrics, "discovery_records_skipped_total", "alpha-restarted", "Null"));
        Assert.Equal(0, Value(metrics, "discovery_records_unusable", "alpha-restarted", "BadAddress"));
        Assert.Matches(@"discovery_started_from_snapshot\{[^}]*process=""alpha-restarted""[^}]*\} 0", metrics);
        Assert.Matches(@"discovery_view_fresh\{[^}]*process=""alpha-restarted""[^}]*\} 1", metrics);

        // Mended in etcd: the gauge the alert reads drops to zero; the counter keeps its history.
        await etcd.EtcdctlAsync($"del {prefix}services/beta/broken");
        Assert.True(await Eventually.TrueAsync(() => restarted.Registry.UnusableByReason().Sum(r => r.Value) == 1));
        // The exporter may answer from a scrape cached for a moment: ask until it reflects the change.
        for (var attempt = 0; attempt < 50; attempt++)
        {
            metrics = await ScrapeAsync(restarted.Port);
            if (Value(metrics, "discovery_records_unusable", "alpha-restarted", "Null") == 0)
            {
                break;
            }
            await Task.Delay(200);
        }
        Assert.Equal(0, Value(metrics, "discovery_records_unusable", "alpha-restarted", "Null"));
        Assert.Equal(1, Value(metrics, "discovery_records_skipped_total", "alpha-restarted", "Null"));
    }

    private static async Task<string> ScrapeAsync(int port)
    {
        // The internal port speaks HTTP/2 without TLS (prior knowledge), as Prometheus is told to.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/metrics")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    private static double Value(string metrics, string name, string process, string reason)
    {
        foreach (Match match in SeriesPattern().Matches(metrics))
        {
            var labels = match.Groups["labels"].Value;
            if (match.Groups["name"].Value == name
                && labels.Contains($"process=\"{process}\"", StringComparison.Ordinal)
                && labels.Contains($"reason=\"{reason}\"", StringComparison.Ordinal))
            {
                return double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new Xunit.Sdk.XunitException($"no series {name}{{process={process}, reason={reason}}} in:\n{metrics}");
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>[0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex SeriesPattern();
}
