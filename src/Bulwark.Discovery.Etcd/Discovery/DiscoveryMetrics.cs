using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;

namespace Bulwark.Discovery.Etcd.Discovery;

/// <summary>
/// Discovery metrics, exported by every host (the meter name starts with Bulwark.). Every
/// series is observed from the registries' own counts rather than added as events happen: a
/// registry is tracked before it reads its first record, and whatever it counted before the
/// process's metrics exporter started (records skipped during a restart while garbage sits in
/// etcd, a start from the snapshot) is still reported on the first scrape.
/// <list type="bullet">
/// <item><c>discovery_stale_seconds</c>: seconds since etcd last confirmed this process's view (R3).</item>
/// <item><c>discovery_records_unusable{reason}</c>: unusable records in etcd now (R1; the alert's input, so it fires after a restart too).</item>
/// <item><c>discovery_records_skipped_total{reason}</c>: records skipped since start (R1).</item>
/// <item><c>discovery_watch_stalls_total</c>, <c>discovery_watch_reconnects_total</c> (R3).</item>
/// <item><c>discovery_started_from_snapshot</c>: 1 when the process started from its snapshot because etcd did not answer (R5).</item>
/// <item><c>discovery_view_fresh</c>: 1 while the view is confirmed by etcd, 0 on the last known good one.</item>
/// </list>
/// </summary>
internal static class DiscoveryMetrics
{
    public const string MeterName = BulwarkMeters.Prefix + "Discovery";

    private static readonly Meter Meter = new(MeterName);
    private static readonly List<WeakReference<EtcdServiceRegistry>> Registries = [];
    private static readonly Lock RegistriesLock = new();

    public static readonly Counter<long> Ejections = Meter.CreateCounter<long>("discovery_instances_ejected", description: "Instances ejected from routing by failed health probes (R4).");

    static DiscoveryMetrics()
    {
        Meter.CreateObservableGauge("discovery_stale_seconds", () => Observe(registry => registry.StaleSeconds), description: "Seconds since etcd last confirmed this process's discovery view (R3).");
        Meter.CreateObservableGauge("discovery_records_unusable", ObserveUnusable, description: "Registry records in etcd that cannot be used, by reason, as last read (R1).");
        Meter.CreateObservableCounter("discovery_records_skipped", ObserveSkipped, description: "Registry records skipped because they could not be used (R1).");
        Meter.CreateObservableCounter("discovery_watch_stalls", () => Observe(registry => registry.StallsDetected), description: "Watches found stalled: no event or progress notification in time (R3).");
        Meter.CreateObservableCounter("discovery_watch_reconnects", () => Observe(registry => registry.Reconnects), description: "Watches re-established, usually on another member (R3).");
        Meter.CreateObservableGauge("discovery_started_from_snapshot", () => Observe(registry => registry.StartedFromSnapshot ? 1L : 0L), description: "1 when this process started from its discovery snapshot because etcd did not answer (R5).");
        Meter.CreateObservableGauge("discovery_view_fresh", () => Observe(registry => registry.IsFresh ? 1L : 0L), description: "1 while etcd confirms the view, 0 while routing on the last known good one.");
    }

    public static void Track(EtcdServiceRegistry registry)
    {
        lock (RegistriesLock)
        {
            Registries.RemoveAll(reference => !reference.TryGetTarget(out _));
            Registries.Add(new WeakReference<EtcdServiceRegistry>(registry));
        }
    }

    private static List<EtcdServiceRegistry> Live()
    {
        List<EtcdServiceRegistry> live = [];
        lock (RegistriesLock)
        {
            foreach (var reference in Registries)
            {
                if (reference.TryGetTarget(out var registry) && !registry.IsDisposed)
                {
                    live.Add(registry);
                }
            }
        }
        return live;
    }

    private static IEnumerable<Measurement<T>> Observe<T>(Func<EtcdServiceRegistry, T> read)
        where T : struct =>
        [.. Live().Select(registry => new Measurement<T>(read(registry), Process(registry)))];

    private static IEnumerable<Measurement<long>> ObserveSkipped() =>
        [.. Live().SelectMany(registry => registry.SkippedByReason()
            .Select(skipped => new Measurement<long>(skipped.Value, Process(registry), Reason(skipped.Key))))];

    private static IEnumerable<Measurement<long>> ObserveUnusable() =>
        [.. Live().SelectMany(registry => registry.UnusableByReason()
            .Select(unusable => new Measurement<long>(unusable.Value, Process(registry), Reason(unusable.Key))))];

    private static KeyValuePair<string, object?> Process(EtcdServiceRegistry registry) => new("process", registry.ProcessName);

    private static KeyValuePair<string, object?> Reason(SkipReason reason) => new("reason", reason.ToString());
}
