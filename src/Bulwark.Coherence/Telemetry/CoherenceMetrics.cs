using System.Diagnostics.Metrics;

namespace Bulwark.Coherence.Telemetry;

/// <summary>
/// The checker's instruments on meter <see cref="MeterName"/>: every check by check, result and
/// cell (<c>bulwark_coherence_checks_total</c> in Prometheus), and the rounds made.
/// </summary>
public sealed class CoherenceMetrics
{
    public const string MeterName = "Bulwark.Coherence";
    public const string ChecksName = "bulwark.coherence.checks";
    public const string RoundsName = "bulwark.coherence.rounds";

    private readonly Counter<long> _checks;
    private readonly Counter<long> _rounds;

    public CoherenceMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _checks = meter.CreateCounter<long>(ChecksName, "{check}", "Coherence checks by check (ledger_write, ledger_read, ledger_reread, feed_read, app_read; config_write, config_read, config_known_read), result (ok, missing, error, timeout) and cell (a ledger cell, or config).");
        _rounds = meter.CreateCounter<long>(RoundsName, "{round}", "Rounds of the coherence checker (every cell once per round).");
    }

    public void RecordCheck(string check, string result, string cell) =>
        _checks.Add(1,
            new KeyValuePair<string, object?>("check", check),
            new KeyValuePair<string, object?>("result", result),
            new KeyValuePair<string, object?>("cell", cell));

    public void RecordRound() => _rounds.Add(1);
}
