namespace Bulwark.Edge.Staff.Ops;

/// <summary>The ops view and its monitor (docs/guides/ops-view.md). Validated at start.</summary>
public sealed class OpsOptions
{
    /// <summary>
    /// The registered services the ops view lists, besides each ledger cell of the placement map
    /// (<c>ledger-NAME</c>). The edges register nothing (customers and staff reach them on their
    /// ports), so they are not listed; the staff edge reports itself.
    /// </summary>
    public IReadOnlyList<string> Services { get; init; } = ["ledger", "accounts", "feed", "support", "config", "cards", "coherence"];

    /// <summary>Deadline of one instance's probe (its health check and its metrics together). Default 2 s, as <c>bulwark cluster status</c>.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the monitor samples the bank for the charts, the alerts and the automatic banner. Default 10 s.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How much history the charts keep (in memory, per staff edge). Default 1 hour.</summary>
    public TimeSpan SeriesWindow { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Card authorisations decided in stand-in per second (all card processors) above which the bank
    /// is degraded. Default 0.1/s: the threshold of the BulwarkCardsInStandIn alert rule.
    /// </summary>
    public double StandInPerSecondDegraded { get; init; } = 0.1;

    /// <summary>
    /// Age of the oldest ledger event not yet in the event log (any cell) above which payments count
    /// as delayed: the feed and everything downstream of the log are that far behind. Default 30 s.
    /// </summary>
    public double EventLogLagSecondsDegraded { get; init; } = 30;

    /// <summary>Whether the monitor sets and clears the automatic banner. Default on.</summary>
    public bool AutomaticBanner { get; init; } = true;

    public void Validate()
    {
        if (Services is null || Services.Count > OpsLimits.ServicesMax || Services.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException($"OpsOptions.Services must name at most {OpsLimits.ServicesMax} services, none empty.");
        }
        if (ProbeTimeout < TimeSpan.FromMilliseconds(OpsLimits.ProbeTimeoutMillisecondsMin) || ProbeTimeout > TimeSpan.FromMilliseconds(OpsLimits.ProbeTimeoutMillisecondsMax))
        {
            throw new ArgumentException($"OpsOptions.ProbeTimeout must be {OpsLimits.ProbeTimeoutMillisecondsMin} to {OpsLimits.ProbeTimeoutMillisecondsMax} ms.");
        }
        if (SampleInterval < TimeSpan.FromMilliseconds(OpsLimits.SampleIntervalMillisecondsMin) || SampleInterval < ProbeTimeout / 4)
        {
            throw new ArgumentException($"OpsOptions.SampleInterval must be at least {OpsLimits.SampleIntervalMillisecondsMin} ms and a quarter of ProbeTimeout.");
        }
        if (SeriesWindow < SampleInterval || SeriesWindow / SampleInterval > OpsLimits.SeriesPointsMax)
        {
            throw new ArgumentException($"OpsOptions.SeriesWindow must hold 1 to {OpsLimits.SeriesPointsMax} samples.");
        }
        if (!(StandInPerSecondDegraded > 0) || !(EventLogLagSecondsDegraded > 0))
        {
            throw new ArgumentException("OpsOptions' degradation thresholds must be greater than zero.");
        }
    }
}

/// <summary>The ops view's limits, each with its reason.</summary>
public static class OpsLimits
{
    public const int ProbeTimeoutMillisecondsMin = 100;

    /// <summary>An instance slower than this to answer a health check is as good as down for an operator.</summary>
    public const int ProbeTimeoutMillisecondsMax = 10_000;

    /// <summary>Sampling faster than this would make the monitor the bank's biggest scraper.</summary>
    public const int SampleIntervalMillisecondsMin = 100;

    /// <summary>Points kept per series (an hour at 1 s, 10 hours at 10 s): about 100 bytes each.</summary>
    public const int SeriesPointsMax = 3600;

    public const int ServicesMax = 64;

    /// <summary>Instances probed per overview; beyond it the rest are listed as not probed (a bank this size wants Prometheus).</summary>
    public const int InstancesProbedMax = 256;

    /// <summary>Probes in flight at once: two shared cores must not be swamped by one overview.</summary>
    public const int ProbesInFlightMax = 16;

    /// <summary>Largest /metrics text read from one instance (a Bulwark process exports well under 1 MiB).</summary>
    public const int MetricsBytesMax = 4 * 1024 * 1024;

    /// <summary>
    /// How long a collected overview is reused: many staff browsers refreshing at once cost one
    /// round of probes, not one each.
    /// </summary>
    public const int OverviewReuseMilliseconds = 2000;

    /// <summary>Healthy samples in a row before the monitor clears its automatic banner: a flapping bank keeps its banner.</summary>
    public const int HealthySamplesBeforeClear = 3;

    /// <summary>Deadline of one configuration call made for the banner.</summary>
    public const int ConfigCallTimeoutMilliseconds = 5000;

    /// <summary>Longest reason accepted with a banner change (the configuration service's own limit is 500).</summary>
    public const int BannerReasonLengthMax = 500;
}
