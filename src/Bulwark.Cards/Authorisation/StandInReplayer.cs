using Bulwark.Platform.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cards.Authorisation;

/// <summary>
/// Posts journalled decisions (stand-in approvals, scheme advices) to the ledger: once at start
/// (the journal survives a restart), then every <see cref="CardsOptions.StandInReplayInterval"/>.
/// Each hold has the id derived from its authorisation, so posting twice is posting once. It also
/// voids the holds that declined or reversed authorisations may have left behind (a hold request
/// that timed out and committed late).
/// </summary>
internal sealed partial class StandInReplayer(CardsOptions options, CardProcessor processor, TimeProvider time, ILogger<StandInReplayer> logger) : BackgroundService
{
    private const int BatchEntriesMax = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        processor.LoadStandInExposure();
        using var timer = new PeriodicTimer(options.StandInReplayInterval, time);
        do
        {
            try
            {
                var waiting = await processor.ReplayPendingAsync(BatchEntriesMax, stoppingToken)
                    + await processor.VoidRequiredAsync(BatchEntriesMax, stoppingToken);
                if (waiting > 0)
                {
                    LogWaiting(waiting);
                }
            }
            catch (Exception error) when (Cancellation.IsGivenUp(error, stoppingToken))
            {
                // Stopping: the ledger calls were cancelled with the host. The journal keeps what is left for the next start.
            }
            catch (Exception error) when (error is not OperationCanceledException && error is not OutOfMemoryException)
            {
                LogReplayFailed(error);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "Journalled card decisions still waiting for the ledger: {Count}")]
    private partial void LogWaiting(int count);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Error, Message = "Replaying journalled card decisions failed; retrying on the next tick")]
    private partial void LogReplayFailed(Exception error);
}
