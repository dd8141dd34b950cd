using System.Net;
using Bulwark.Discovery.Etcd;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Discovery.Tests.Fixtures;

/// <summary>
/// One simulated Bulwark process: a host built with <see cref="BulwarkHost"/> that serves one
/// service, with its own <see cref="EtcdServiceRegistry"/> (separate registries behave like
/// separate processes: own watch, own lease, own snapshot).
/// </summary>
public sealed class TestProcess : IAsyncDisposable
{
    private TestProcess(string service, EtcdServiceRegistry registry, WebApplication app, int port)
    {
        Service = service;
        Registry = registry;
        App = app;
        Port = port;
    }

    public string Service { get; }

    public EtcdServiceRegistry Registry { get; }

    public WebApplication App { get; }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public static EtcdRegistryOptions Options(IReadOnlyList<Uri> endpoints, string prefix, string name, string? snapshotPath = null) => new()
    {
        Endpoints = endpoints,
        KeyPrefix = prefix,
        ProcessName = name,
        SnapshotPath = snapshotPath,
        LeaseTtlSeconds = 5,
        StaleAfterSeconds = 2,
        ProgressRequestIntervalSeconds = 0.5,
        CallTimeoutSeconds = 1,
        StartTimeoutSeconds = 2,
        MemberRefreshIntervalSeconds = 1,
        HealthProbeIntervalSeconds = 0.5,
        HealthProbeTimeoutSeconds = 0.5,
    };

    public static async Task<TestProcess> StartAsync(string service, EtcdRegistryOptions options, int port = 0, string version = "dev")
    {
        var registry = await EtcdServiceRegistry.StartAsync(options, TestLog.Logger);
        try
        {
            var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
            {
                InternalEndpoint = new IPEndPoint(IPAddress.Loopback, port),
                ConsoleLogLevel = LogLevel.Warning,
                Version = version,
            }, registry);
            builder.Services.AddHostedBulwarkService(service);
            builder.Services.AddEtcdDiscoveryReadiness(registry);
            var app = builder.Build();
            app.UsePlatform();
            await app.StartAsync();
            var bound = app.Services.GetRequiredService<InternalEndpointAccessor>().Get().Port;
            return new TestProcess(service, registry, app, bound);
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client of <paramref name="service"/> through <c>bulwark:///service</c> of this process.</summary>
    public Health.HealthClient Client(string service) =>
        new(App.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(service));

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Registry.DisposeAsync();
    }
}

internal static class TestLog
{
    private static readonly ILoggerFactory Factory = LoggerFactory.Create(builder => builder
        .AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        })
        .SetMinimumLevel(Environment.GetEnvironmentVariable("BULWARK_TEST_LOG") == "1" ? LogLevel.Information : LogLevel.Critical));

    public static ILogger Logger { get; } = Factory.CreateLogger("discovery");
}
