using Bulwark.Feed.Grpc;
using Bulwark.Feed.Ledger;
using Bulwark.Feed.Telemetry;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Feed;

public static class FeedServiceCollectionExtensions
{
    /// <summary>
    /// Hosts the feed service in this process: a ledger client through <c>bulwark:///ledger</c> and
    /// the registry entry "feed". Call <see cref="MapFeed"/> on the built app.
    /// </summary>
    public static IServiceCollection AddFeed(this IServiceCollection services, FeedOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddHostedBulwarkService("feed");
        services.AddServiceClient("ledger", channel => new LedgerClient(channel));
        services.AddMetrics();
        services.AddSingleton<LedgerReader>();
        services.AddSingleton<FeedMetrics>();
        services.AddSingleton<CallOutcomeInterceptor<FeedMetrics>>();
        services.AddGrpc().AddServiceOptions<FeedGrpcService>(grpc => grpc.Interceptors.Add<CallOutcomeInterceptor<FeedMetrics>>());
        return services;
    }

    public static IEndpointRouteBuilder MapFeed(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<FeedGrpcService>();
        return endpoints;
    }
}
