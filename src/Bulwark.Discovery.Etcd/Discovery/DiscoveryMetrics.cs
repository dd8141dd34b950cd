using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;

namespace Bulwark.Discovery.Etcd.Discovery;

/// <summary>
/// Discovery metrics, exported by every host (the meter name starts with Bulwark.):
/// <c>discovery_stale_seconds</c> (seconds since etcd last confirmed this process's view; alert
/// when it passes the stale threshold), skipped records by reason, detected stalls, reconnects.
/// </summary>
internal static class DiscoveryMetrics
{
    public const string MeterName = BulwarkMeters.Prefix + "Discovery";

    private static readonly Meter Meter = new(MeterName);
    private static readonly List<WeakReference<EtcdServiceRegistry>> Registries = [];
    private static readonly Lock RegistriesLock = new();

    public static readonly Counter<long> RecordsSkipped = Meter.CreateCounter<long>("discovery_records_skipped", description: "Registry records skipped because they could not be used (R1).");
    public static readonly Counter<long> Stalls = Meter.CreateCounter<long>("discovery_watch_stalls", description: "Watches found stalled: no event or progress notification in time (R3).");
    public static readonly Counter<long> Reconnects = Meter.CreateCounter<long>("discovery_watch_reconnects", description: "Watches re-established, usually on another member (R3).");
    public static readonly Counter<long> Ejections = Meter.CreateCounter<long>("discovery_instances_ejected", description: "Instances ejected from routing by failed health probes (R4).");

    static DiscoveryMetrics()
    {
        Meter.CreateObservableGauge("discovery_stale_seconds", Observe, description: "Seconds since etcd last confirmed this process's discovery view (R3).");
    }

    public static void Track(EtcdServiceRegistry registry)
    {
        lock (RegistriesLock)
        {
            Registries.RemoveAll(reference => !reference.TryGetTarget(out _));
            Registries.Add(new WeakReference<EtcdServiceRegistry>(registry));
        }
    }

    private static IEnumerable<Measurement<double>> Observe()
    {
        List<Measurement<double>> measurements = [];
        lock (RegistriesLock)
        {
            foreach (var reference in Registries)
            {
                if (reference.TryGetTarget(out var registry) && !registry.IsDisposed)
                {
                    measurements.Add(new Measurement<double>(registry.StaleSeconds, new KeyValuePair<string, object?>("process", registry.ProcessName)));
                }
            }
        }
        return measurements;
    }
}
