using Bulwark.Edge.BankStatus;
using Bulwark.Platform.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ConfigServiceClient = Bulwark.Config.Protos.Config.ConfigClient;

namespace Bulwark.Edge.Staff.Ops;

public static class OpsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the ops view's API and its monitor to a staff edge (after <see cref="StaffEdgeServiceCollectionExtensions.AddStaffEdge"/>):
    /// probes of the registered instances, the charts' series, the alerts, and the status banner
    /// written to the configuration service. The host may supply an <see cref="IStatusBannerSource"/>
    /// (<see cref="ConfigStatusBanner"/>, to show the banner customers see), an <see cref="IOpsInstanceProbe"/>
    /// or an <see cref="IStatusBannerStore"/> before this.
    /// </summary>
    public static IServiceCollection AddStaffOps(this IServiceCollection services, OpsOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.TryAddSingleton<IOpsInstanceProbe, HttpOpsInstanceProbe>();
        services.TryAddSingleton<IStatusBannerSource, NoStatusBanner>();
        services.AddServiceClient(ConfigStatusBannerStore.Service, channel => new ConfigServiceClient(channel));
        services.TryAddSingleton<IStatusBannerStore, ConfigStatusBannerStore>();
        services.AddSingleton<OpsCollector>();
        services.AddSingleton<OpsSeries>();
        services.AddSingleton<AutomaticBanner>();
        services.AddSingleton<OpsMonitor>();
        services.AddHostedService(provider => provider.GetRequiredService<OpsMonitor>());
        services.AddSingleton<OpsOverview>();
        services.AddSingleton<OpsApi>();
        return services;
    }
}
