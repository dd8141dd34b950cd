using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;
using Grpc.Core;

namespace Bulwark.Config.Telemetry;

/// <summary>
/// The configuration service's instruments on meter <see cref="MeterName"/>: every call by method
/// and outcome (the gRPC status), NOT_FOUND on a counter of its own (a rise in not-found is how a
/// lost or replaced store shows itself first, R11/R14), the store's revision as this instance last
/// saw it, the watches open, and the watches the service ended (a watcher too slow to keep up).
/// </summary>
public sealed class ConfigMetrics : ICallOutcomeRecorder
{
    public const string MeterName = "Bulwark.Config";
    public const string RequestsName = "bulwark.config.requests";
    public const string NotFoundName = "bulwark.config.not_found";
    public const string RevisionName = "bulwark.config.revision";
    public const string WatchersName = "bulwark.config.watchers";
    public const string WatchesEndedName = "bulwark.config.watches_ended";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _notFound;
    private readonly Counter<long> _watchesEndedCounter;
    private long _revision;
    private long _watchers;
    private long _watchesEndedTotal;

    public ConfigMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>(RequestsName, "{request}", "Configuration calls by method and outcome (gRPC status).");
        _notFound = meter.CreateCounter<long>(NotFoundName, "{request}", "Configuration calls answered NOT_FOUND (a key the store has never held), by method.");
        _watchesEndedCounter = meter.CreateCounter<long>(WatchesEndedName, "{watch}", "Watches the service ended itself, by reason (slow: the watcher stopped reading).");
        meter.CreateObservableGauge(RevisionName, () => Interlocked.Read(ref _revision), "{revision}", "The store's revision as this instance last saw it.");
        meter.CreateObservableGauge(WatchersName, () => Interlocked.Read(ref _watchers), "{watch}", "Watches open on this instance.");
    }

    /// <summary>Watches open now (the gauge's value), for tests and diagnostics.</summary>
    public long Watchers => Interlocked.Read(ref _watchers);

    /// <summary>Watches the service ended itself since start (the counter's total), for tests and diagnostics.</summary>
    public long WatchesEnded => Interlocked.Read(ref _watchesEndedTotal);

    /// <summary>The last revision seen (the gauge's value), for tests and diagnostics.</summary>
    public long Revision => Interlocked.Read(ref _revision);

    public void RecordRequest(string method, StatusCode outcome)
    {
        _requests.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("outcome", outcome.ToString()));
        if (outcome == StatusCode.NotFound)
        {
            _notFound.Add(1, new KeyValuePair<string, object?>("method", method));
        }
    }

    /// <summary>Raises the revision gauge to <paramref name="revision"/> (it never goes back).</summary>
    public void ObserveRevision(long revision)
    {
        var seen = Interlocked.Read(ref _revision);
        while (revision > seen)
        {
            var previous = Interlocked.CompareExchange(ref _revision, revision, seen);
            if (previous == seen)
            {
                return;
            }
            seen = previous;
        }
    }

    public void WatchStarted() => Interlocked.Increment(ref _watchers);

    public void WatchStopped() => Interlocked.Decrement(ref _watchers);

    public void RecordWatchEnded(string reason)
    {
        Interlocked.Increment(ref _watchesEndedTotal);
        _watchesEndedCounter.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }
}
