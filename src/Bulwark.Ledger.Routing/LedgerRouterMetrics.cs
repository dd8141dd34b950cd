using System.Diagnostics.Metrics;
using Bulwark.Platform.Telemetry;

namespace Bulwark.Ledger.Routing;

/// <summary>
/// The router's metrics (meter <c>Bulwark.Ledger.Routing</c>):
/// <c>ledger_router_refusals_total{cell,reason}</c>, refusals received from cells (a move's flip
/// shows as a few; a steady rate means a map and a cell disagree), and
/// <c>ledger_router_retries_total{method}</c>, rounds sent again after a refusal.
/// </summary>
public sealed class LedgerRouterMetrics
{
    public const string MeterName = BulwarkMeters.Prefix + "Ledger.Routing";

    private readonly Counter<long> _refusals;
    private readonly Counter<long> _retries;

    public LedgerRouterMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _refusals = meter.CreateCounter<long>("ledger_router_refusals", "{refusal}", "Partition refusals received from ledger cells, by cell and reason.");
        _retries = meter.CreateCounter<long>("ledger_router_retries", "{round}", "Rounds of a ledger call sent again after a refusal, by method.");
    }

    internal void Refused(string cell, string reason) =>
        _refusals.Add(1, new KeyValuePair<string, object?>("cell", cell), new KeyValuePair<string, object?>("reason", reason));

    internal void Retried(string method) => _retries.Add(1, new KeyValuePair<string, object?>("method", method));
}
