using System.Globalization;
using System.Net;
using Bulwark.Coherence.Checking;
using Bulwark.Coherence.Telemetry;
using Bulwark.Platform.Configuration;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
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
    /// every ledger client's), <c>bulwark:///feed</c> and <c>bulwark:///accounts</c> (the synthetic
    /// customers of <c>app_read</c>), an HTTP client of the app API, its metrics and status, and the registry
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
        services.AddServiceClient("accounts", channel => new AccountsClient(channel));
        services.TryAddSingleton(provider => new AppReadCheck(
            provider.GetRequiredService<AccountsClient>(),
            new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = CoherenceLimits.AppApiCallTimeout },
            AppApiAddresses(provider, options),
            provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(provider => new CellCheck(
            provider.GetRequiredService<LedgerClient>(),
            provider.GetRequiredService<FeedClient>(),
            provider.GetRequiredService<AppReadCheck>(),
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

    /// <summary>
    /// Adds the configuration service's checks (<see cref="ConfigReadCheck"/>: <c>config_write</c>,
    /// <c>config_read</c>, <c>config_known_read</c>) to every round: a client of
    /// <c>bulwark:///config</c> writes, and the process's configuration client
    /// (<see cref="ConfigValues"/>, which must watch <see cref="ConfigReadCheck.Prefix"/> and the
    /// prefixes of <paramref name="knownKeys"/>) reads. Call after <see cref="AddCoherence"/>.
    /// </summary>
    public static IServiceCollection AddCoherenceConfigurationChecks(this IServiceCollection services, IReadOnlyList<string> knownKeys)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(knownKeys);
        services.AddSingleton<IBankWideCheck>(provider =>
        {
            var values = provider.GetRequiredService<ConfigValues>();
            return new ConfigReadCheck(provider.GetRequiredService<IServiceChannelFactory>().GetChannel("config"), values.Get, () => values.IsFresh, knownKeys,
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ConfigReadCheck>>());
        });
        return services;
    }

    /// <summary>
    /// The configured app API addresses, or else this process's own public endpoint once it has
    /// started (the one-process bank serves the app API itself), or else none.
    /// </summary>
    private static Func<IReadOnlyList<Uri>> AppApiAddresses(IServiceProvider provider, CoherenceOptions options)
    {
        if (options.AppApi.Count > 0)
        {
            return () => options.AppApi;
        }
        var endpoints = provider.GetService<InternalEndpointAccessor>();
        return () => endpoints?.GetPublic() is { } endpoint
            ? [new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{LoopbackIfAny(endpoint)}/"))]
            : [];
    }

    /// <summary>A listener on every address is reached on loopback from inside its own process.</summary>
    private static IPEndPoint LoopbackIfAny(IPEndPoint endpoint) =>
        endpoint.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, endpoint.Port)
        : endpoint.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, endpoint.Port)
        : endpoint;
}
