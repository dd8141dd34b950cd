using Bulwark.Edge.BankStatus;
using Bulwark.Edge.Services;
using Microsoft.Extensions.Logging;

namespace Bulwark.Edge.Staff.Ops;

/// <summary>
/// Sets the automatic status banner when the monitor sees the bank degraded and clears it after
/// <see cref="OpsLimits.HealthySamplesBeforeClear"/> healthy samples in a row. It never touches a
/// banner a staff member set (source manual). Every staff edge replica runs it; the configuration
/// service's compare-and-set keeps them from doing anything twice: a set expects the key to hold no
/// value (version 0), so of two replicas that both see the bank degraded one writes and the other
/// is refused; a clear or an update expects the version it read, so it cannot remove or overwrite a
/// banner somebody changed since. A refused write is the expected outcome of the race and is only logged.
/// </summary>
public sealed partial class AutomaticBanner(IStatusBannerStore store, TimeProvider time, ILogger<AutomaticBanner> logger)
{
    public const string Actor = "ops monitor (staff edge)";

    private int _healthySamples;

    /// <summary>Acts on one sample: <paramref name="degradation"/> is the message to show, or null when the bank is healthy.</summary>
    public async Task ObserveAsync(string? degradation, CancellationToken cancellationToken)
    {
        if (degradation is null && ++_healthySamples < OpsLimits.HealthySamplesBeforeClear)
        {
            return;
        }
        if (degradation is not null)
        {
            _healthySamples = 0;
        }
        try
        {
            var stored = await store.ReadAsync(cancellationToken);
            if (degradation is not null)
            {
                await SetAsync(stored, degradation, cancellationToken);
            }
            else if (stored.Banner is { Source: StatusBanner.Automatic })
            {
                await store.DeleteAsync(stored.Version, Actor, "the ops monitor sees the bank healthy again", cancellationToken);
                LogCleared(logger, stored.Version);
            }
        }
        catch (BannerConflictException conflict)
        {
            LogRaced(logger, conflict.Message);
        }
        catch (ServiceCallException error)
        {
            // The configuration service is unreachable: try again at the next sample.
            LogUnavailable(logger, error.Message);
        }
    }

    private async Task SetAsync(StoredBanner stored, string message, CancellationToken cancellationToken)
    {
        if (stored.HoldsValue && stored.Banner is not { Source: StatusBanner.Automatic })
        {
            // A staff member's banner (or a value that is not a banner, which a person must look at) stays.
            return;
        }
        if (stored.Banner is { } current && current.Message == message)
        {
            return;
        }
        var banner = new StatusBanner(StatusBanner.Warning, message, StatusBanner.Automatic, time.GetUtcNow());
        var version = await store.PutAsync(banner, stored.Version, Actor, "the ops monitor sees the bank degraded", cancellationToken);
        LogSet(logger, version, message);
    }

    [LoggerMessage(EventId = 4130, Level = LogLevel.Warning, Message = "Automatic status banner set at revision {Version}: {Message}")]
    private static partial void LogSet(ILogger logger, long version, string message);

    [LoggerMessage(EventId = 4131, Level = LogLevel.Information, Message = "Automatic status banner of revision {Version} cleared: the bank is healthy again")]
    private static partial void LogCleared(ILogger logger, long version);

    [LoggerMessage(EventId = 4132, Level = LogLevel.Information, Message = "The status banner changed before the ops monitor's write (another staff edge or a staff member wrote first): {Detail}")]
    private static partial void LogRaced(ILogger logger, string detail);

    [LoggerMessage(EventId = 4133, Level = LogLevel.Warning, Message = "The ops monitor could not read or write the status banner: {Detail}")]
    private static partial void LogUnavailable(ILogger logger, string detail);
}
