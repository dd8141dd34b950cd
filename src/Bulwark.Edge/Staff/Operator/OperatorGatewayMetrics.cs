using System.Diagnostics.Metrics;

namespace Bulwark.Edge.Staff.Operator;

/// <summary>The operator gateway's counter (meter <c>Bulwark.Edge.Staff.Operator</c>).</summary>
internal sealed class OperatorGatewayMetrics : IDisposable
{
    public const string MeterName = "Bulwark.Edge.Staff.Operator";

    private readonly Meter _meter;
    private readonly Counter<long> _calls;

    public OperatorGatewayMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _meter = meters.Create(MeterName);
        _calls = _meter.CreateCounter<long>("bulwark.edge.staff.operator.calls", unit: "{call}",
            description: "Operator CLI calls through the staff edge's gateway by method (unknown for one it does not forward) and outcome "
                + "(forwarded, source, unauthenticated, unknown_method, forbidden, no_reason, bad_cell, audit_failed, no_instance, timeout, unreachable, broken, not_grpc).");
    }

    public void Call(string method, string outcome) => _calls.Add(1,
        new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("outcome", outcome));

    public void Dispose() => _meter.Dispose();
}
