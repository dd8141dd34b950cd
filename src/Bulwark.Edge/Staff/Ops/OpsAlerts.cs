using System.Globalization;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>An alert the ops view finds firing: the name of the rule, its severity, what it saw.</summary>
public sealed record OpsAlert(string Name, string Severity, string Summary);

/// <summary>
/// The alerts the ops view evaluates itself, on its own samples — a small named set mirroring rules
/// of deploy/prometheus/bulwark.rules.yml (same names where a rule exists), so an operator without
/// Prometheus still sees what is wrong. Unlike Prometheus they have no <c>for:</c> duration: they fire
/// on the latest sample. Prometheus, where a bank runs it, stays the pager; this is the glass.
/// </summary>
public static class OpsAlerts
{
    /// <summary>As BulwarkDiscoveryStale: etcd has not confirmed the process's view for 10 s.</summary>
    public const double DiscoveryStaleSecondsMax = 10;

    public static IReadOnlyList<OpsAlert> Evaluate(OpsSnapshot snapshot, OpsRates rates, OpsOptions options)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(rates);
        ArgumentNullException.ThrowIfNull(options);
        var alerts = new List<OpsAlert>();
        var instances = snapshot.Services.SelectMany(service => service.Instances).ToList();
        foreach (var instance in instances.Where(instance => instance.Health == InstanceProbeResult.Unreachable))
        {
            // BulwarkInstanceDown is up == 0: Prometheus could not scrape it. Here: it did not answer its probe.
            alerts.Add(new OpsAlert("BulwarkInstanceDown", "page", $"{instance.InstanceId} ({instance.Service}) at {instance.Address} did not answer: {instance.Why}"));
        }
        foreach (var instance in instances.Where(instance => instance.Health is not (InstanceProbeResult.Unreachable or InstanceProbeResult.Serving or "NOT PROBED")))
        {
            alerts.Add(new OpsAlert("BulwarkInstanceNotServing", "page", $"{instance.InstanceId} ({instance.Service}) answers {instance.Health}"));
        }
        foreach (var instance in instances.Where(instance => instance.DiscoveryStaleSeconds > DiscoveryStaleSecondsMax))
        {
            alerts.Add(new OpsAlert("BulwarkDiscoveryStale", "page", string.Create(CultureInfo.InvariantCulture,
                $"{instance.InstanceId}: etcd has not confirmed its discovery view for {instance.DiscoveryStaleSeconds:0} s")));
        }
        if (rates.StandInsPerSecond > options.StandInPerSecondDegraded)
        {
            alerts.Add(new OpsAlert("BulwarkCardsInStandIn", "page", string.Create(CultureInfo.InvariantCulture,
                $"{rates.StandInsPerSecond:0.##} card authorisations/s decided in stand-in (over {options.StandInPerSecondDegraded:0.##}/s)")));
        }
        if (snapshot.EventLogLagSecondsMax > options.EventLogLagSecondsDegraded)
        {
            var worst = snapshot.EventLogLag.MaxBy(lag => lag.LagSeconds)!;
            alerts.Add(new OpsAlert("BulwarkEventLogLagging", "page", string.Create(CultureInfo.InvariantCulture,
                $"cell {worst.Cell}: the oldest ledger event not yet in the event log is {worst.LagSeconds:0} s old (over {options.EventLogLagSecondsDegraded:0} s)")));
        }
        foreach (var cell in snapshot.CellsBehindLog)
        {
            alerts.Add(new OpsAlert("BulwarkPartitionsBehindLog", "page", string.Create(CultureInfo.InvariantCulture,
                $"cell {cell.Cell} refuses {cell.PartitionsBehindLog:0} partition(s): its store is behind the event log for them (restored from an old copy?); rebuild it from the log")));
        }
        if (rates.CoherenceMissingNew > 0)
        {
            alerts.Add(new OpsAlert("BulwarkCoherenceWriteMissing", "page", string.Create(CultureInfo.InvariantCulture,
                $"{rates.CoherenceMissingNew:0} acknowledged synthetic write(s) not seen by a coherence check since the last sample")));
        }
        foreach (var instance in instances.Where(instance => instance.ConfigStatus.Contains("last good kept", StringComparison.Ordinal)))
        {
            alerts.Add(new OpsAlert("BulwarkConfigLastGoodKept", "ticket", $"{instance.InstanceId}: {instance.ConfigStatus}"));
        }
        if (snapshot.StaffEdgeConfig is { } config && config.UntrustedKeys.Count > 0)
        {
            alerts.Add(new OpsAlert("BulwarkConfigUntrustedNotFound", "page", $"this staff edge's configuration client keeps last good values for: {string.Join(", ", config.UntrustedKeys)}"));
        }
        if (snapshot.Placement.Status == "last known good")
        {
            alerts.Add(new OpsAlert("BulwarkPlacementMapUnusable", "ticket", snapshot.Placement.Why ?? "the placement map is not current"));
        }
        return alerts;
    }

    /// <summary>Why the bank counts as degraded for its customers (the automatic banner's message), or null when it does not.</summary>
    public static string? Degradation(OpsSnapshot snapshot, OpsRates rates, OpsOptions options)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(rates);
        ArgumentNullException.ThrowIfNull(options);
        var cards = rates.StandInsPerSecond > options.StandInPerSecondDegraded;
        // A cell refusing partitions behind the log: those customers' payments wait too.
        var payments = snapshot.EventLogLagSecondsMax > options.EventLogLagSecondsDegraded || snapshot.CellsBehindLog.Any();
        return (cards, payments) switch
        {
            (true, true) => "Card payments and transfers are slower to show than usual. Your money is safe; we are working on it.",
            (true, false) => "Card payments are being approved but may take longer to show in your balance. Your money is safe; we are working on it.",
            (false, true) => "Payments are taking longer than usual to appear in your feed. Your money is safe; we are working on it.",
            _ => null,
        };
    }
}
