using Bulwark.Config.Grpc;
using Bulwark.Config.Identity;
using Bulwark.Config.Storage;
using Bulwark.Config.Telemetry;
using Bulwark.Config.Watch;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Telemetry;
using Bulwark.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bulwark.Config;

public static class ConfigServiceCollectionExtensions
{
    /// <summary>The configuration service's name in discovery, logs and commands.</summary>
    public const string ServiceName = "config";

    /// <summary>
    /// Hosts the configuration service in this process: its store (SQLite at
    /// <see cref="ConfigOptions.DatabasePath"/>, or PostgreSQL shared with the other instances,
    /// unless an <see cref="IConfigStore"/> is already registered), the caller identity (today
    /// unauthenticated: <see cref="UnauthenticatedCallerIdentity"/>, unless an
    /// <see cref="ICallerIdentity"/> is already registered), the watchers' revision poller, and
    /// the registry entry "config". Call <see cref="MapConfig"/> on the built app.
    /// </summary>
    public static IServiceCollection AddConfig(this IServiceCollection services, ConfigOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddHostedBulwarkService(ServiceName);
        services.AddMetrics();
        services.TryAddSingleton<IConfigStore>(_ => options.PostgresConnectionString is { Length: > 0 } postgres
            ? new PostgresConfigStore(postgres)
            : new SqliteConfigStore(new SqliteDatabase(options.DatabasePath)));
        services.TryAddSingleton<ICallerIdentity, UnauthenticatedCallerIdentity>();
        services.AddSingleton<ConfigChangeSignal>();
        services.AddSingleton<ConfigMetrics>();
        services.AddSingleton<CallOutcomeInterceptor<ConfigMetrics>>();
        services.AddTransient<ConfigWatchSession>();
        services.AddHostedService<ConfigStartup>();
        services.AddHostedService<ConfigRevisionPoller>();
        services.AddGrpc().AddServiceOptions<ConfigGrpcService>(grpc => grpc.Interceptors.Add<CallOutcomeInterceptor<ConfigMetrics>>());
        return services;
    }

    public static IEndpointRouteBuilder MapConfig(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<ConfigGrpcService>();
        return endpoints;
    }
}
