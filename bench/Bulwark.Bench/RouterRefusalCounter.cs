using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Ledger.Routing;

namespace Bulwark.Bench;

/// <summary>
/// Counts, by reason, the partition refusals the placement router received from cells in this
/// process (<c>ledger_router_refusals</c>): the router sends such a call again itself, so the
/// caller sees only a longer call; this is where a move's MOVING and NOT_OWNER answers show.
/// </summary>
public sealed class RouterRefusalCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _byReason = new(StringComparer.Ordinal);

    public RouterRefusalCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == LedgerRouterMetrics.MeterName && instrument.Name == "ledger_router_refusals")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var reason = "unknown";
            foreach (var tag in tags)
            {
                if (tag.Key == "reason" && tag.Value is string text)
                {
                    reason = text;
                }
            }
            _byReason.AddOrUpdate(reason, value, (_, total) => total + value);
        });
        _listener.Start();
    }

    /// <summary>Refusals so far, by reason, in reason order.</summary>
    public IReadOnlyDictionary<string, long> ByReason => new SortedDictionary<string, long>(_byReason, StringComparer.Ordinal);

    public void Dispose() => _listener.Dispose();
}
