namespace Bulwark.Edge.Staff.Ops;

/// <summary>
/// The overview a staff browser asks for: a fresh round of probes (reused for
/// <see cref="OpsLimits.OverviewReuseMilliseconds"/>, one round in flight at a time however many
/// browsers ask), with the rates of the monitor's latest samples — rates need two samples apart in
/// time, which one request cannot give.
/// </summary>
internal sealed class OpsOverview(OpsCollector collector, OpsMonitor monitor, OpsOptions options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private Task<OpsSnapshot>? _round;
    private long _roundStarted;

    public async Task<OpsEvaluation> GetAsync(CancellationToken cancellationToken)
    {
        Task<OpsSnapshot> round;
        lock (_lock)
        {
            if (_round is null || (_round.IsCompleted && time.GetElapsedTime(_roundStarted).TotalMilliseconds > OpsLimits.OverviewReuseMilliseconds))
            {
                _roundStarted = time.GetTimestamp();
                // Not the request's token: the round is shared, and one browser going away must not fail the others'.
                _round = collector.CollectAsync(CancellationToken.None);
            }
            round = _round;
        }
        var snapshot = await round.WaitAsync(cancellationToken);
        var rates = monitor.Latest?.Rates ?? OpsRates.Unknown;
        return new OpsEvaluation(snapshot, rates, OpsAlerts.Evaluate(snapshot, rates, options), OpsAlerts.Degradation(snapshot, rates, options));
    }
}
