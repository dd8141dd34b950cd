using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;

namespace Bulwark.Platform.Configuration;

/// <summary>
/// The configuration client's metrics (exported as Prometheus text; dots become underscores and
/// counters end in <c>_total</c>). The alerts in deploy/prometheus/bulwark.rules.yml read them.
/// <list type="bullet">
/// <item><c>bulwark.config.client.stale_seconds{prefix}</c>: seconds since the service last confirmed the prefix.</item>
/// <item><c>bulwark.config.client.fresh{prefix}</c>: 1 while confirmed within the staleness bound, 0 on last good values.</item>
/// <item><c>bulwark.config.client.untrusted_not_found{prefix,key}</c>: answers that lacked a key held with a value, without a tombstone (R14 a).</item>
/// <item><c>bulwark.config.client.untrusted_keys{prefix,key}</c>: 1 for each key answered "unknown" now for that reason: a gauge, because a
/// counter's series that starts at 1 shows no increase to Prometheus, and a restarted process must report it again from its first scrape.</item>
/// <item><c>bulwark.config.client.revision_went_back{prefix}</c>: answers refused because their revision was below the highest seen (R14 c),
/// and <c>bulwark.config.client.revision_refused{prefix}</c>: 1 while the prefix's answers are refused.</item>
/// <item><c>bulwark.config.client.malformed_values{key}</c> and <c>bulwark.config.client.malformed_kept{key}</c> (1 while the stored value
/// cannot be parsed and the last good one is used): a gauge as well, so a restarted process reports it from its first scrape.</item>
/// <item><c>bulwark.config.client.watch_stalls{prefix}</c>, <c>bulwark.config.client.reconnects{prefix}</c>.</item>
/// <item><c>bulwark.config.client.cache_unusable{reason}</c>, <c>bulwark.config.client.cache_write_failures</c>,
/// <c>bulwark.config.client.started_from_cache</c>.</item>
/// </list>
/// </summary>
internal sealed class ConfigClientMetrics : IDisposable
{
    public const string MeterName = BulwarkMeters.Prefix + "Config.Client";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _untrustedNotFound;
    private readonly Counter<long> _revisionWentBack;
    private readonly Counter<long> _malformedValues;
    private readonly Counter<long> _watchStalls;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _cacheUnusable;
    private readonly Counter<long> _cacheWriteFailures;

    public ConfigClientMetrics(IMeterFactory? meterFactory, ConfigView view, Func<IReadOnlyCollection<string>> malformedKeys, Func<bool> startedFromCache)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _untrustedNotFound = _meter.CreateCounter<long>("bulwark.config.client.untrusted_not_found", description: "Answers of the config service that lacked a key this process held a value for, without a tombstone: not believed (R14).");
        _revisionWentBack = _meter.CreateCounter<long>("bulwark.config.client.revision_went_back", description: "Answers of the config service refused because their revision was below the highest this process has seen (R14).");
        _malformedValues = _meter.CreateCounter<long>("bulwark.config.client.malformed_values", description: "Stored values a setting could not parse or validate; the last good value was kept.");
        _watchStalls = _meter.CreateCounter<long>("bulwark.config.client.watch_stalls", description: "Config watches found silent past the staleness bound and reopened.");
        _reconnects = _meter.CreateCounter<long>("bulwark.config.client.reconnects", description: "Config watches opened again after one ended or failed.");
        _cacheUnusable = _meter.CreateCounter<long>("bulwark.config.client.cache_unusable", description: "Cache files of last good values that could not be used at start, by reason.");
        _cacheWriteFailures = _meter.CreateCounter<long>("bulwark.config.client.cache_write_failures", description: "Writes of the cache file of last good values that failed.");
        _meter.CreateObservableGauge("bulwark.config.client.stale_seconds",
            () => view.Prefixes.Select(prefix => new Measurement<double>(view.StaleSeconds(prefix), Prefix(prefix))),
            description: "Seconds since the config service last confirmed this process's values under the prefix.");
        _meter.CreateObservableGauge("bulwark.config.client.fresh",
            () => view.Prefixes.Select(prefix => new Measurement<long>(view.IsFresh(prefix) ? 1 : 0, Prefix(prefix))),
            description: "1 while the config service confirms the prefix, 0 while its last good values are served.");
        _meter.CreateObservableGauge("bulwark.config.client.untrusted_keys",
            () => view.UntrustedKeys().Select(key => new Measurement<long>(1, Prefix(view.PrefixOrThrow(key)), Key(key))),
            description: "1 for each key whose value this process keeps because the config service's answer lacked it without a tombstone (R14).");
        _meter.CreateObservableGauge("bulwark.config.client.revision_refused",
            () => view.Prefixes.Select(prefix => new Measurement<long>(view.IsRefused(prefix) ? 1 : 0, Prefix(prefix))),
            description: "1 while the config service's answers for the prefix are refused because its revision went back (R14).");
        _meter.CreateObservableGauge("bulwark.config.client.malformed_kept",
            () => malformedKeys().Select(key => new Measurement<long>(1, Key(key))),
            description: "1 for each key whose stored value a setting cannot use now (its last good value is in use).");
        _meter.CreateObservableGauge("bulwark.config.client.started_from_cache",
            () => startedFromCache() ? 1L : 0L,
            description: "1 when this process started on its cache file's values because the config service had not answered.");
    }

    public void UntrustedNotFound(string prefix, string key) => _untrustedNotFound.Add(1, Prefix(prefix), Key(key));

    public void RevisionWentBack(string prefix) => _revisionWentBack.Add(1, Prefix(prefix));

    public void MalformedValue(string key) => _malformedValues.Add(1, Key(key));

    public void WatchStalled(string prefix) => _watchStalls.Add(1, Prefix(prefix));

    public void Reconnected(string prefix) => _reconnects.Add(1, Prefix(prefix));

    public void CacheUnusable(ConfigCacheProblem reason) => _cacheUnusable.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));

    public void CacheWriteFailed() => _cacheWriteFailures.Add(1);

    private static KeyValuePair<string, object?> Prefix(string prefix) => new("prefix", prefix);

    private static KeyValuePair<string, object?> Key(string key) => new("key", key);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
