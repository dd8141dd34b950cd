using System.Net;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Tests.Hosting;

public sealed class BulwarkHostTests
{
    private static async Task<WebApplication> StartAsync(IServiceRegistry registry, string service, bool withPublic = false)
    {
        var options = new BulwarkHostOptions
        {
            PublicEndpoint = withPublic ? new IPEndPoint(IPAddress.Loopback, 0) : null,
            ConsoleLogLevel = LogLevel.Warning,
        };
        var builder = BulwarkHost.CreateBuilder(options, registry);
        builder.Services.AddHostedBulwarkService(service);
        var app = builder.Build();
        app.UsePlatform();
        await app.StartAsync();
        return app;
    }

    private static Health.HealthClient Client(WebApplication app, string service) =>
        new(app.Services.GetRequiredService<IServiceChannelFactory>().GetChannel(service));

    [Fact]
    public async Task Start_RegistersServiceAtBoundPort_ReachableThroughBulwarkScheme()
    {
        var registry = new InMemoryServiceRegistry();
        await using var app = await StartAsync(registry, "echo");

        var instance = Assert.Single(registry.GetView("echo").Instances);
        var reply = await Client(app, "echo").CheckAsync(new HealthCheckRequest { Service = "echo" });

        Assert.DoesNotContain(":0", instance.Address, StringComparison.Ordinal);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task Stop_OneOfTwoInstances_CallsKeepSucceedingOnTheOther()
    {
        var registry = new InMemoryServiceRegistry();
        await using var first = await StartAsync(registry, "echo");
        var second = await StartAsync(registry, "echo");
        var client = Client(first, "echo");
        for (var i = 0; i < 20; i++)
        {
            await client.CheckAsync(new HealthCheckRequest());
        }

        await second.StopAsync();
        await second.DisposeAsync();
        var failures = 0;
        for (var i = 0; i < 50; i++)
        {
            try
            {
                await client.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            }
            catch (RpcException)
            {
                failures++;
            }
        }

        Assert.Single(registry.GetView("echo").Instances);
        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task Call_ServiceWithNoInstances_FailsFastWithUnavailableNamingIt()
    {
        var registry = new InMemoryServiceRegistry();
        await using var app = await StartAsync(registry, "echo");

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client(app, "nobody").CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("'nobody'", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthAndMetrics_OnPublicEndpoint_AnswerAndGrpcIsRefused()
    {
        var registry = new InMemoryServiceRegistry();
        await using var app = await StartAsync(registry, "echo", withPublic: true);
        var internalPort = app.Services.GetRequiredService<InternalEndpointAccessor>().Get().Port;
        var publicAddress = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.Single(a => !a.EndsWith($":{internalPort}", StringComparison.Ordinal));
        using var http = new HttpClient { BaseAddress = new Uri(publicAddress) };

        using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using var metrics = await http.GetAsync(new Uri("/metrics", UriKind.Relative));
        using var grpcRequest = new HttpRequestMessage(HttpMethod.Post, "/grpc.health.v1.Health/Check")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        grpcRequest.Content.Headers.ContentType = new("application/grpc");
        using var grpc = await http.SendAsync(grpcRequest);

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, grpc.StatusCode);
    }

    [Fact]
    public async Task Stop_DeregistersAndTurnsNotReady()
    {
        var registry = new InMemoryServiceRegistry();
        var app = await StartAsync(registry, "echo");
        var readiness = app.Services.GetRequiredService<ReadinessGate>();
        Assert.True(readiness.IsReady);

        await app.StopAsync();

        Assert.False(readiness.IsReady);
        Assert.Empty(registry.GetView("echo").Instances);
        await app.DisposeAsync();
    }
}
