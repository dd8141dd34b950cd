using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Bulwark.Ledger.Events;

/// <summary>
/// The relays' instruments on the meter "Bulwark.Ledger.Events", tagged by cell: events published
/// (new, and duplicates the log took as no-ops), errors by reason (gap, conflict, unavailable,
/// locked, corrupt, unknown_version, invalid, failed, store), and the lag in events and in seconds
/// (the age of the oldest committed event not yet in the log). Alert on lag seconds and on any conflict.
/// </summary>
public sealed class LedgerEventRelayMetrics : IDisposable
{
    public const string MeterName = "Bulwark.Ledger.Events";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _published;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _errors;
    private readonly ConcurrentDictionary<string, LedgerEventRelay> _relays = new(StringComparer.Ordinal);

    public LedgerEventRelayMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _published = _meter.CreateCounter<long>("bulwark.ledger.events.published", "{event}", "Ledger events newly appended to the event log, by cell.");
        _duplicates = _meter.CreateCounter<long>("bulwark.ledger.events.republished", "{event}", "Ledger events appended again and found already in the log (no-ops), by cell.");
        _errors = _meter.CreateCounter<long>("bulwark.ledger.events.errors", "{error}", "Failed relay rounds, by cell and reason.");
        _meter.CreateObservableGauge("bulwark.ledger.events.lag", () => _relays.Values.Select(relay =>
            new Measurement<long>(relay.LagEvents, new KeyValuePair<string, object?>("cell", relay.Cell))), "{event}", "Committed ledger events not yet in the event log, by cell.");
        _meter.CreateObservableGauge("bulwark.ledger.events.lag_seconds", () => _relays.Values.Select(relay =>
            new Measurement<double>(relay.LagSeconds, new KeyValuePair<string, object?>("cell", relay.Cell))), "s", "Age of the oldest committed ledger event not yet in the event log, by cell.");
        _meter.CreateObservableGauge("bulwark.ledger.partitions.behind_log", () => _relays.Values.Select(relay =>
            new Measurement<long>(relay.PartitionsBehindLog, new KeyValuePair<string, object?>("cell", relay.Cell))), "{partition}",
            "Partitions a cell owns and refuses because its store is behind the event log for them (restored from an old copy), by cell.");
    }

    internal void Observe(LedgerEventRelay relay) => _relays[relay.Cell] = relay;

    internal void Published(string cell, int appended, int duplicates)
    {
        var tag = new KeyValuePair<string, object?>("cell", cell);
        _published.Add(appended, tag);
        _duplicates.Add(duplicates, tag);
    }

    internal void Failed(string cell, string reason) =>
        _errors.Add(1, new KeyValuePair<string, object?>("cell", cell), new KeyValuePair<string, object?>("reason", reason));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
