using Bulwark.Platform.Discovery;
using Bulwark.Platform.Overload;
using Bulwark.Platform.Registry;
using Bulwark.Platform.Telemetry;
using Grpc.HealthCheck;
using Grpc.Net.Client.Balancer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Bulwark.Platform.Hosting;

/// <summary>
/// The service defaults every Bulwark process gets: Kestrel on an internal gRPC endpoint (and
/// optionally a public HTTP one), the registry and the <c>bulwark:///</c> channel factory,
/// health endpoints, OpenTelemetry metrics as Prometheus text, structured console logs and an
/// injectable <see cref="TimeProvider"/>.
/// </summary>
public static class BulwarkHost
{
    public const string ReadyTag = "ready";

    public static WebApplicationBuilder CreateBuilder(BulwarkHostOptions options, IServiceRegistry registry, string[]? args = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(registry);
        options.Overload.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [] });
        var endpointAccessor = new InternalEndpointAccessor();
        endpointAccessor.SetPublic(options.PublicEndpoint);
        endpointAccessor.SetStaff(options.StaffEndpoint);
        endpointAccessor.SetOperator(options.OperatorEndpoint);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(options.InternalEndpoint, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                endpointAccessor.Set(listen);
            });
            if (options.PublicEndpoint is { } publicEndpoint)
            {
                // Browsers and curl speak HTTP/1.1 to a plain-text port (HTTP/2 without TLS needs prior knowledge).
                kestrel.Listen(publicEndpoint, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    endpointAccessor.SetPublic(listen);
                });
            }
            if (options.StaffEndpoint is { } staffEndpoint)
            {
                kestrel.Listen(staffEndpoint, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    endpointAccessor.SetStaff(listen);
                });
            }
            if (options.OperatorEndpoint is { } operatorEndpoint)
            {
                // gRPC without TLS needs HTTP/2 with prior knowledge: this port speaks nothing else.
                kestrel.Listen(operatorEndpoint, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    endpointAccessor.SetOperator(listen);
                });
            }
            kestrel.AddServerHeader = false;
        });

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
            console.UseUtcTimestamp = true;
        });
        builder.Logging.SetMinimumLevel(options.ConsoleLogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);

        AddPlatformServices(builder.Services, options, registry, endpointAccessor);
        return builder;
    }

    internal static void AddPlatformServices(IServiceCollection services, BulwarkHostOptions options, IServiceRegistry registry, InternalEndpointAccessor endpointAccessor)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(registry);
        services.AddSingleton(endpointAccessor);
        services.AddSingleton<ResolverFactory, BulwarkResolverFactory>();
        services.AddSingleton<IServiceChannelFactory, ServiceChannelFactory>();
        services.AddSingleton<ReadinessGate>();
        services.AddSingleton<HealthServiceImpl>();
        services.AddSingleton<ServiceAnnouncer>();
        services.AddSingleton<IServiceAnnouncer>(provider => provider.GetRequiredService<ServiceAnnouncer>());
        services.AddHostedService(provider => provider.GetRequiredService<ServiceAnnouncer>());
        // One instance for every call (grpc-dotnet takes a registered interceptor from DI).
        services.AddSingleton<GrpcServerMetricsInterceptor>();
        services.AddSingleton<CallConcurrencyLimiter>();
        services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = 16 * 1024 * 1024;
            grpc.EnableDetailedErrors = false;
            grpc.Interceptors.Add<GrpcServerMetricsInterceptor>();
            // After the metrics, so that a shed call is counted as answered UNAVAILABLE.
            grpc.Interceptors.Add<CallConcurrencyLimiter>();
        });
        services.AddHealthChecks().AddCheck<ReadinessGate>("readiness", tags: [ReadyTag]);
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddDetector(provider =>
                new ServiceResource(options, provider.GetServices<HostedServiceName>())))
            .WithMetrics(metrics => metrics
            .AddMeter(BulwarkMeters.Prefix + "*")
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter());
    }

    /// <summary>
    /// Maps <c>/health/live</c>, <c>/health/ready</c> and <c>/metrics</c>, and refuses gRPC on the
    /// public and staff endpoints: internal contracts are never reachable from outside.
    /// </summary>
    public static WebApplication UsePlatform(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var endpointAccessor = app.Services.GetRequiredService<InternalEndpointAccessor>();
        var hostOptions = app.Services.GetRequiredService<BulwarkHostOptions>();
        if (hostOptions.PublicEndpoint is not null || hostOptions.StaffEndpoint is not null)
        {
            app.Use(async (context, next) =>
            {
                if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
                    && !endpointAccessor.IsInternalPort(context.Connection.LocalPort))
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return;
                }
                await next(context);
            });
        }
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGrpcService<HealthServiceImpl>();
        return app;
    }
}
