using Bulwark.Coherence.Checking;
using Bulwark.Coherence.Telemetry;
using Bulwark.Platform.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Coherence;

public static class CoherenceServiceCollectionExtensions
{
    /// <summary>The checker's name in discovery, commands and the cluster.</summary>
    public const string ServiceName = "coherence";

    /// <summary>
    /// Hosts the coherence checker in this process: its loop, clients of <c>bulwark:///ledger</c>
    /// (which must be routed by placement: <c>AddPlacement</c> and <c>AddLedgerRouting</c>, as
    /// every ledger client's) and <c>bulwark:///feed</c>, its metrics and status, and the registry
    /// entry "coherence" (deploys and status gate on its health; nothing calls it).
    /// </summary>
    public static IServiceCollection AddCoherence(this IServiceCollection services, CoherenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddHostedBulwarkService(ServiceName);
        services.AddServiceClient("ledger", channel => new LedgerClient(channel));
        services.AddServiceClient("feed", channel => new FeedClient(channel));
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<CoherenceMetrics>();
        services.TryAddSingleton<CoherenceStatus>();
        services.TryAddSingleton(provider => new CellCheck(
            provider.GetRequiredService<LedgerClient>(),
            provider.GetRequiredService<FeedClient>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<CellCheck>>()));
        services.TryAddSingleton(provider => new CoherenceChecker(
            provider.GetRequiredService<Bulwark.Platform.Placement.PlacementView>(),
            provider.GetRequiredService<CellCheck>(),
            provider.GetServices<IBankWideCheck>(),
            provider.GetRequiredService<CoherenceStatus>(),
            provider.GetRequiredService<CoherenceMetrics>(),
            provider.GetRequiredService<CoherenceOptions>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<CoherenceChecker>>()));
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<CoherenceChecker>());
        return services;
    }
}
