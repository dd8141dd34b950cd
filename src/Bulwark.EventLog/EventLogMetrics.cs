using System.Diagnostics.Metrics;

namespace Bulwark.EventLog;

/// <summary>
/// The event log's instruments on the meter "Bulwark.EventLog", tagged by store ("file" or
/// "jetstream"). Records are counted once durable; duplicates (republished records, no-ops) on
/// their own; errors by reason (<see cref="EventLogError"/>), so a conflict or corruption alert
/// can key on its reason.
/// </summary>
public sealed class EventLogMetrics : IDisposable
{
    public const string MeterName = "Bulwark.EventLog";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _appends;
    private readonly Counter<long> _records;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _syncs;
    private readonly Counter<long> _errors;

    /// <summary>Instruments on a meter from <paramref name="meterFactory"/>, or on a meter of their own when null.</summary>
    public EventLogMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _appends = _meter.CreateCounter<long>("bulwark.event_log.appends", "{append}", "Appends that returned durable, by store.");
        _records = _meter.CreateCounter<long>("bulwark.event_log.records", "{record}", "Records newly written, by store.");
        _duplicates = _meter.CreateCounter<long>("bulwark.event_log.duplicates", "{record}", "Records offered again with the stored body (no-ops), by store.");
        _bytes = _meter.CreateCounter<long>("bulwark.event_log.bytes", "By", "Bytes of records newly written (framing included), by store.");
        _syncs = _meter.CreateCounter<long>("bulwark.event_log.syncs", "{sync}", "fsync calls of the file store (one per group of appends).");
        _errors = _meter.CreateCounter<long>("bulwark.event_log.errors", "{error}", "Failed operations, by store and reason (gap, conflict, corrupt, unknown_version, locked, unavailable, failed, invalid).");
    }

    internal void Appended(string store, int records, int duplicates, long bytes)
    {
        var tag = new KeyValuePair<string, object?>("store", store);
        _appends.Add(1, tag);
        _records.Add(records, tag);
        _duplicates.Add(duplicates, tag);
        _bytes.Add(bytes, tag);
    }

    internal void Synced() => _syncs.Add(1);

    internal void Failed(string store, EventLogError error) => _errors.Add(1,
        new KeyValuePair<string, object?>("store", store), new KeyValuePair<string, object?>("reason", ReasonName(error)));

    internal static string ReasonName(EventLogError error) => error switch
    {
        EventLogError.Gap => "gap",
        EventLogError.Conflict => "conflict",
        EventLogError.Corrupt => "corrupt",
        EventLogError.UnknownVersion => "unknown_version",
        EventLogError.Locked => "locked",
        EventLogError.Unavailable => "unavailable",
        EventLogError.Failed => "failed",
        EventLogError.Invalid => "invalid",
        _ => "other",
    };

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
