using Bulwark.Platform.Hosting;
using Bulwark.Platform.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Bulwark.Ledger.Routing;

public static class LedgerRoutingServiceCollectionExtensions
{
    /// <summary>The service name every ledger client calls; cell <c>a</c> registers as <c>ledger-a</c>.</summary>
    public const string LedgerService = "ledger";

    /// <summary>
    /// Routes every call to <c>ledger</c> through a <see cref="LedgerCellRouter"/> over the
    /// registered <see cref="PlacementView"/> (see <see cref="PlacementServiceCollectionExtensions.AddPlacement"/>):
    /// clients made from <c>GetChannel("ledger")</c> reach the cells unchanged.
    /// </summary>
    public static IServiceCollection AddLedgerRouting(this IServiceCollection services, LedgerRouterLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        (limits ?? new LedgerRouterLimits()).Validate();
        services.TryAddSingleton<LedgerRouterMetrics>();
        return services.AddServiceRouter(LedgerService, (provider, channelFor) => new LedgerCellRouter(
            provider.GetRequiredService<PlacementView>(),
            cell => channelFor(PlacementMap.ServiceOf(cell, LedgerService)),
            provider.GetRequiredService<LedgerRouterMetrics>(),
            provider.GetService<TimeProvider>() ?? TimeProvider.System,
            provider.GetRequiredService<ILogger<LedgerCellRouter>>(),
            limits));
    }
}
