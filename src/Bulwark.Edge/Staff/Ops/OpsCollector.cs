using System.Globalization;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Placement;
using Bulwark.Platform.Registry;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>
/// Gathers one <see cref="OpsSnapshot"/>: the listed services' instances from this process's
/// discovery view (with their registration records' versions), each probed once within
/// <see cref="OpsOptions.ProbeTimeout"/>, at most <see cref="OpsLimits.ProbesInFlightMax"/> at a time;
/// the placement map when this process reads one. Whatever it cannot learn is reported as unknown
/// with why, never guessed.
/// </summary>
internal sealed class OpsCollector(IServiceRegistry registry, IOpsInstanceProbe probe, OpsOptions options, TimeProvider time, IServiceProvider services)
{
    /// <summary>A view older than this counts as stale (the registry's default threshold, R3; as <c>bulwark cluster status</c>).</summary>
    private const double DiscoveryStaleAfterSeconds = 3;

    public async Task<OpsSnapshot> CollectAsync(CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var placement = services.GetService<PlacementView>();
        var map = placement?.Current;
        var names = options.Services.Concat(map?.Cells.Keys.Order(StringComparer.Ordinal).Select(cell => PlacementMap.ServiceOf(cell)) ?? []).Distinct(StringComparer.Ordinal).ToList();
        var views = names.Select(registry.GetView).ToList();
        var targets = views.SelectMany(view => view.Instances).Take(OpsLimits.InstancesProbedMax).ToList();

        // One read of metrics per process: in the one-process bank every service is the same address,
        // and its /metrics (the whole bank's) is read once per round, not once per name.
        var readers = targets.GroupBy(instance => instance.Address, StringComparer.Ordinal).Select(group => group.First()).ToHashSet();
        using var slots = new SemaphoreSlim(OpsLimits.ProbesInFlightMax);
        var probes = targets.ToDictionary(instance => instance, instance => ProbeAsync(slots, instance, readers.Contains(instance), cancellationToken));
        await Task.WhenAll(probes.Values);
        var byAddress = probes.Where(pair => readers.Contains(pair.Key))
            .ToDictionary(pair => pair.Key.Address, pair => pair.Value.Result, StringComparer.Ordinal);

        var serviceList = views.Select(view => new OpsService(view.Service, view.Authoritative, view.Detail,
            [.. view.Instances.Select(instance => probes.TryGetValue(instance, out var result)
                ? Describe(instance, result.Result, byAddress[instance.Address])
                : new OpsInstance(instance.Service, instance.InstanceId, instance.Address, instance.Version, "NOT PROBED", $"over {OpsLimits.InstancesProbedMax} instances", null, "unknown", "unknown"))])).ToList();
        var metrics = byAddress.Where(pair => pair.Value.Metrics is not null).ToDictionary(pair => pair.Key, pair => pair.Value.Metrics!, StringComparer.Ordinal);
        var (lag, lagStatus) = EventLogLag(metrics, probes.Count > 0);
        var (coherence, coherenceStatus) = Coherence(metrics, probes.Count > 0);
        return new OpsSnapshot(
            time.GetUtcNow(),
            time.GetElapsedTime(started).TotalSeconds,
            targets.Count == 0 ? "the discovery view of this staff edge lists no instance of the listed services" : null,
            serviceList,
            Placement(placement, serviceList),
            lag, lagStatus, coherence, coherenceStatus,
            metrics.Where(pair => pair.Value.Any(sample => sample.Name is OpsMetricNames.CardDecisions or OpsMetricNames.CardStandIns))
                .ToDictionary(pair => pair.Key, pair => Cards(pair.Value), StringComparer.Ordinal),
            metrics.Where(pair => pair.Value.Any(sample => sample.Name == OpsMetricNames.CoherenceChecks))
                .ToDictionary(pair => pair.Key, pair => pair.Value.Where(sample => sample.Name == OpsMetricNames.CoherenceChecks && Label(sample, "result") == "missing").Sum(sample => sample.Value), StringComparer.Ordinal),
            StaffEdgeConfig());
    }

    private async Task<InstanceProbeResult> ProbeAsync(SemaphoreSlim slots, ServiceInstance instance, bool readMetrics, CancellationToken cancellationToken)
    {
        await slots.WaitAsync(cancellationToken);
        try
        {
            return await probe.ProbeAsync(instance.Service, instance.Address, readMetrics, options.ProbeTimeout, cancellationToken);
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>An instance: its own health answer, and what its process's metrics (<paramref name="process"/>, read once per address) say.</summary>
    private static OpsInstance Describe(ServiceInstance instance, InstanceProbeResult health, InstanceProbeResult process)
    {
        var result = process;
        var stale = result.Metrics?.FirstOrDefault(sample => sample.Name == OpsMetricNames.DiscoveryStaleSeconds)?.Value;
        var freshness = (result.Metrics, stale) switch
        {
            (null, _) => $"unknown ({result.MetricsError})",
            (_, null) => "unknown (no discovery_stale_seconds: not on etcd discovery)",
            (_, <= DiscoveryStaleAfterSeconds) => string.Create(CultureInfo.InvariantCulture, $"fresh ({stale:0.0} s)"),
            _ => string.Create(CultureInfo.InvariantCulture, $"STALE ({stale:0.0} s)"),
        };
        return new OpsInstance(instance.Service, instance.InstanceId, instance.Address, instance.Version, health.Health,
            health.HealthError, stale, freshness, ConfigStatus(result));
    }

    /// <summary>Last-known-good status of an instance's configuration client, from its metrics; "none" when it has none.</summary>
    private static string ConfigStatus(InstanceProbeResult result)
    {
        if (result.Metrics is not { } metrics)
        {
            return $"unknown ({result.MetricsError})";
        }
        var stale = metrics.Where(sample => sample.Name == OpsMetricNames.ConfigStaleSeconds).Select(sample => sample.Value).DefaultIfEmpty(-1).Max();
        if (stale < 0)
        {
            return "no configuration client";
        }
        var problems = new List<string>();
        problems.AddRange(metrics.Where(sample => sample.Name == OpsMetricNames.ConfigUntrustedKeys && sample.Value > 0).Select(sample => $"untrusted not-found for {Label(sample, "key")}, last good kept"));
        problems.AddRange(metrics.Where(sample => sample.Name == OpsMetricNames.ConfigMalformedKept && sample.Value > 0).Select(sample => $"malformed {Label(sample, "key")}, last good kept"));
        problems.AddRange(metrics.Where(sample => sample.Name == OpsMetricNames.ConfigRevisionRefused && sample.Value > 0).Select(sample => $"store went back under {Label(sample, "prefix")}, last good kept"));
        var freshness = stale > 60 ? string.Create(CultureInfo.InvariantCulture, $"serving last known good (unconfirmed for {stale:0} s)") : "current";
        return problems.Count == 0 ? freshness : $"{freshness}; {string.Join("; ", problems)}";
    }

    private static OpsPlacement Placement(PlacementView? view, IReadOnlyList<OpsService> services)
    {
        if (view is null)
        {
            return new OpsPlacement("unknown", "this staff edge does not read the placement map (no placement store in this process)", null, null, null, []);
        }
        if (view.Current is not { } map)
        {
            return new OpsPlacement("unknown", "no usable placement map has been read yet", null, null, null, []);
        }
        var cells = map.Cells.Keys.Order(StringComparer.Ordinal).Select(cell =>
        {
            var name = PlacementMap.ServiceOf(cell);
            var instances = services.FirstOrDefault(service => service.Name == name)?.Instances ?? [];
            return new OpsCell(cell, name, map.PartitionsOf(cell).Count, instances.Count, instances.Count(instance => instance.Health == InstanceProbeResult.Serving));
        }).ToList();
        var why = view.UnusableNow is { } unusable ? $"the stored map is unusable ({unusable}); last good map shown" : view.IsFresh ? null : "not confirmed recently; last good map shown";
        return new OpsPlacement(why is null ? "current" : "last known good", why, map.Version, map.PartitionCount, map.ClusterId, cells);
    }

    private static (IReadOnlyList<OpsEventLogLag>, string) EventLogLag(Dictionary<string, IReadOnlyList<PrometheusSample>> byAddress, bool probed)
    {
        var seconds = byAddress.Values.SelectMany(samples => samples).Where(sample => sample.Name == OpsMetricNames.EventLogLagSeconds).ToList();
        var events = byAddress.Values.SelectMany(samples => samples).Where(sample => sample.Name == OpsMetricNames.EventLogLagEvents).ToList();
        var behind = byAddress.Values.SelectMany(samples => samples).Where(sample => sample.Name == OpsMetricNames.PartitionsBehindLog).ToList();
        var lags = seconds.GroupBy(sample => Label(sample, "cell"), StringComparer.Ordinal).OrderBy(group => group.Key, StringComparer.Ordinal)
            .Select(group => new OpsEventLogLag(group.Key, group.Max(sample => sample.Value),
                events.Where(sample => Label(sample, "cell") == group.Key).Select(sample => (double?)sample.Value).Max(),
                behind.Where(sample => Label(sample, "cell") == group.Key).Select(sample => (double?)sample.Value).Max())).ToList();
        var status = lags.Count > 0 ? "known"
            : !probed ? "unknown: no instance was reachable from this staff edge"
            : "unknown: no reachable ledger process reports a relay (no event log configured, or the ledger unreachable)";
        return (lags, status);
    }

    private static (IReadOnlyList<OpsCoherenceCell>, string) Coherence(Dictionary<string, IReadOnlyList<PrometheusSample>> byAddress, bool probed)
    {
        var checks = byAddress.Values.SelectMany(samples => samples).Where(sample => sample.Name == OpsMetricNames.CoherenceChecks).ToList();
        var cells = checks.GroupBy(sample => Label(sample, "cell"), StringComparer.Ordinal).OrderBy(group => group.Key, StringComparer.Ordinal)
            .Select(group => new OpsCoherenceCell(group.Key, group.GroupBy(sample => Label(sample, "result"), StringComparer.Ordinal)
                .ToDictionary(result => result.Key, result => result.Sum(sample => sample.Value), StringComparer.Ordinal))).ToList();
        var status = cells.Count > 0 ? "known"
            : !probed ? "unknown: no instance was reachable from this staff edge"
            : "unknown: no reachable coherence checker has reported a check yet";
        return (cells, status);
    }

    private static OpsCardCounters Cards(IReadOnlyList<PrometheusSample> samples)
    {
        var decisions = samples.Where(sample => sample.Name == OpsMetricNames.CardDecisions).ToList();
        return new OpsCardCounters(
            decisions.Sum(sample => sample.Value),
            // A decline is any answer other than 00 (approved); the processor's counter is by response code.
            decisions.Where(sample => Label(sample, "code") is not ("00" or "")).Sum(sample => sample.Value),
            samples.Where(sample => sample.Name == OpsMetricNames.CardStandIns).Sum(sample => sample.Value));
    }

    private OpsConfigClient? StaffEdgeConfig() => services.GetService<ConfigValues>() is { } values
        ? new OpsConfigClient(values.IsFresh, values.StartedFromCache, values.UntrustedKeys, values.MalformedValueCount, values.UntrustedNotFoundCount, values.RevisionWentBackCount)
        : null;

    private static string Label(PrometheusSample sample, string name) => sample.Labels.GetValueOrDefault(name, "");
}
