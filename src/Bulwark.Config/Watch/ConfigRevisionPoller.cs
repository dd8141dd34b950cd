using Bulwark.Config.Storage;
using Bulwark.Config.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Config.Watch;

/// <summary>
/// Reads the store's revision every <see cref="ConfigOptions.WatchPollInterval"/> while anyone
/// watches on this instance, and wakes the watchers (<see cref="ConfigChangeSignal"/>) when it has
/// moved: that is how a commit made through another instance on the same PostgreSQL database
/// reaches them. Polling rather than LISTEN/NOTIFY: it needs no dedicated connection to keep
/// alive and re-listen after a failover, it works unchanged on SQLite, and it cannot lose a
/// notification — the revision it reads is the truth, however many commits it missed. One
/// one-row read per interval per instance, however many watch; none while nobody watches.
/// </summary>
internal sealed partial class ConfigRevisionPoller(IConfigStore store, ConfigChangeSignal signal, ConfigOptions options, ConfigMetrics metrics,
    TimeProvider time, ILogger<ConfigRevisionPoller> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long seen = -1;
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.WatchPollInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (metrics.Watchers == 0)
            {
                continue;
            }
            try
            {
                var state = await store.StateAsync(stoppingToken);
                if (failing)
                {
                    failing = false;
                    LogStoreBack(state.Revision);
                }
                metrics.ObserveRevision(state.Revision);
                if (state.Revision != seen)
                {
                    seen = state.Revision;
                    signal.Notify();
                }
            }
            catch (Exception error) when (error is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The watchers' own reads fail too and end their streams; this only says so once.
                if (!failing)
                {
                    failing = true;
                    LogStoreFailing(error.GetBaseException().Message);
                }
            }
        }
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Cannot read the configuration store's revision for the watchers: {Reason}")]
    private partial void LogStoreFailing(string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "The configuration store answers again (revision {Revision})")]
    private partial void LogStoreBack(long revision);
}
