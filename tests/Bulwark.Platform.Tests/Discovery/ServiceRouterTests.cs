using System.Collections.Concurrent;
using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Registry;
using Bulwark.Platform.Tests.Protos;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Tests.Discovery;

public sealed class ServiceRouterTests
{
    [Fact]
    public async Task GetChannel_RoutedService_ClientsGoThroughTheRouter_ToThePartsDiscoveryChannels()
    {
        var routed = new ConcurrentBag<string>();
        var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
        {
            ConsoleLogLevel = LogLevel.Warning,
            InternalEndpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
        }, new InMemoryServiceRegistry());
        builder.Services.AddHostedBulwarkService("probe-a");
        builder.Services.AddSingleton<CountingProbe>();
        builder.Services.AddServiceClient("probe", channel => new Probe.ProbeClient(channel));
        builder.Services.AddServiceRouter("probe", (_, channelFor) => new PartRouter(channelFor("probe-a"), routed));
        await using var app = builder.Build();
        app.UsePlatform();
        app.MapGrpcService<CountingProbe>();
        await app.StartAsync();
        var factory = app.Services.GetRequiredService<IServiceChannelFactory>();

        var reply = await app.Services.GetRequiredService<Probe.ProbeClient>().ReadAsync(new ProbeRequest { Key = "k", FailFirst = 1 }, deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Same(factory.GetChannel("probe"), factory.GetChannel("probe"));
        Assert.IsType<PartRouter>(factory.GetChannel("probe"));
        Assert.Equal(["/bulwark.platform.tests.v1.Probe/Read"], routed);
        // The part's channel retries the safe methods of the routed service's contract.
        Assert.Equal(2, reply.Attempts);
        await app.StopAsync();
    }

    private sealed class PartRouter(CallInvoker part, ConcurrentBag<string> routed) : CallInvoker
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        {
            routed.Add(method.FullName);
            return part.AsyncUnaryCall(method, host, options, request);
        }

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException();

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw new NotSupportedException();

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw new NotSupportedException();
    }

    private sealed class CountingProbe : Probe.ProbeBase
    {
        private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);

        public override Task<ProbeReply> Read(ProbeRequest request, ServerCallContext context)
        {
            var attempt = _attempts.AddOrUpdate(request.Key, 1, (_, count) => count + 1);
            return attempt <= request.FailFirst
                ? throw new RpcException(new Status(StatusCode.Unavailable, "refused on purpose"))
                : Task.FromResult(new ProbeReply { Attempts = attempt });
        }
    }
}
