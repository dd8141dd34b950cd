using System.Diagnostics.Metrics;

namespace Bulwark.Edge.Staff;

/// <summary>The staff edge's counters (meter <c>Bulwark.Edge.Staff</c>).</summary>
internal sealed class StaffEdgeMetrics : IDisposable
{
    public const string MeterName = "Bulwark.Edge.Staff";

    private readonly Meter _meter;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _logins;

    public StaffEdgeMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _meter = meters.Create(MeterName);
        _refused = _meter.CreateCounter<long>("bulwark.edge.staff.refused", unit: "{request}",
            description: "Staff edge requests refused before they reached a handler, by reason (source: outside the allowed ranges; forwarded_for: a trusted proxy's unusable header).");
        _logins = _meter.CreateCounter<long>("bulwark.edge.staff.logins", unit: "{login}",
            description: "Staff logins by outcome (ok, refused, locked, unavailable).");
    }

    public void Refused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Login(string outcome) => _logins.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Dispose() => _meter.Dispose();
}
