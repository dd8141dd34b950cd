using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Placement;

public static class PlacementServiceCollectionExtensions
{
    /// <summary>
    /// Registers the placement store and a <see cref="PlacementView"/> over it, started and
    /// stopped with the host (its first read is bounded: a host starts while the store is away).
    /// </summary>
    public static IServiceCollection AddPlacement(this IServiceCollection services, Func<IServiceProvider, IPlacementStore> store, PlacementViewOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(store);
        (options ?? new PlacementViewOptions()).Validate();
        services.AddSingleton(store);
        services.AddSingleton(provider => new PlacementView(
            provider.GetRequiredService<IPlacementStore>(),
            provider.GetService<TimeProvider>() ?? TimeProvider.System,
            provider.GetRequiredService<ILogger<PlacementView>>(),
            options,
            provider.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        return services.AddHostedService(provider => provider.GetRequiredService<PlacementView>());
    }
}
