using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>What the monitor concluded from its latest sample.</summary>
public sealed record OpsEvaluation(OpsSnapshot Snapshot, OpsRates Rates, IReadOnlyList<OpsAlert> Alerts, string? Degradation);

/// <summary>
/// Samples the bank every <see cref="OpsOptions.SampleInterval"/>: one round of probes, the rates
/// since the previous round, the alerts, a point for the charts, and the automatic banner. One
/// round at a time: a round slower than the interval delays the next rather than piling up.
/// </summary>
internal sealed partial class OpsMonitor(OpsCollector collector, OpsSeries series, AutomaticBanner banner, OpsOptions options, TimeProvider time,
    ILogger<OpsMonitor> logger) : BackgroundService
{
    private OpsEvaluation? _latest;

    /// <summary>The latest sample's evaluation, or null before the first.</summary>
    public OpsEvaluation? Latest => Volatile.Read(ref _latest);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.SampleInterval, time);
        do
        {
            try
            {
                await SampleAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // One failed round must not stop the monitor; the next round tries again.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogSampleFailed(logger, error);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One round (also what tests call to sample without waiting for the timer).</summary>
    public async Task<OpsEvaluation> SampleAsync(CancellationToken cancellationToken)
    {
        var snapshot = await collector.CollectAsync(cancellationToken);
        var rates = OpsRates.Between(Latest?.Snapshot, snapshot);
        var alerts = OpsAlerts.Evaluate(snapshot, rates, options);
        var degradation = OpsAlerts.Degradation(snapshot, rates, options);
        var evaluation = new OpsEvaluation(snapshot, rates, alerts, degradation);
        Volatile.Write(ref _latest, evaluation);
        series.Add(new OpsPoint(snapshot.At, rates.StandInsPerSecond, rates.DeclinesPerSecond, rates.DecisionsPerSecond,
            snapshot.EventLogLagSecondsMax, snapshot.InstancesUnreachable, alerts.Count));
        if (options.AutomaticBanner)
        {
            await banner.ObserveAsync(degradation, cancellationToken);
        }
        return evaluation;
    }

    [LoggerMessage(EventId = 4134, Level = LogLevel.Warning, Message = "An ops monitor sample failed; the next one tries again")]
    private static partial void LogSampleFailed(ILogger logger, Exception error);
}
