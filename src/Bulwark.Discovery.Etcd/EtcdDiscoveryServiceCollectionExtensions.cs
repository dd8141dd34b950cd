using Bulwark.Platform.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bulwark.Discovery.Etcd;

public static class EtcdDiscoveryServiceCollectionExtensions
{
    /// <summary>
    /// Rule R5's readiness half: <c>/health/ready</c> stays 503 until the registry has a view to
    /// route on, fresh from etcd or from the snapshot.
    /// </summary>
    public static IServiceCollection AddEtcdDiscoveryReadiness(this IServiceCollection services, EtcdServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        services.AddHealthChecks().AddCheck(
            "discovery-view",
            () => registry.HasView
                ? HealthCheckResult.Healthy(registry.IsFresh ? "fresh" : "last known good")
                : HealthCheckResult.Unhealthy("no discovery view yet"),
            tags: [BulwarkHost.ReadyTag]);
        return services;
    }
}
