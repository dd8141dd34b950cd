using Bulwark.Config.Storage;
using Bulwark.Config.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Config;

/// <summary>
/// Opens the store (applying migrations) and reads its revision when the host starts, so that an
/// unreachable database or a newer schema stops the process before it registers — not at the
/// first consumer's read.
/// </summary>
internal sealed partial class ConfigStartup(IServiceProvider services, ILogger<ConfigStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var store = services.GetRequiredService<IConfigStore>();
        var state = await store.StateAsync(cancellationToken);
        services.GetRequiredService<ConfigMetrics>().ObserveRevision(state.Revision);
        LogOpened(state.Revision, state.CompactedRevision);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Configuration store open at revision {Revision} (compacted at {CompactedRevision})")]
    private partial void LogOpened(long revision, long compactedRevision);
}
