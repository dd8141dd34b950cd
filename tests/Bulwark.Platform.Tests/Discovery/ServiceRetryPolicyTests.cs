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

public sealed class ServiceRetryPolicyTests
{
    [Fact]
    public void DescriptorOfClient_GeneratedClient_IsItsServicesDescriptor()
    {
        Assert.Same(Probe.Descriptor, ServiceContract.DescriptorOfClient(typeof(Probe.ProbeClient)));
        Assert.Null(ServiceContract.DescriptorOfClient(typeof(string)));
    }

    [Fact]
    public void RetryableMethods_AreThoseTheProtoMarksSafe()
    {
        var contract = new ServiceContract("probe", Probe.Descriptor);

        Assert.Equal(["Read", "KeyedWrite"], contract.RetryableMethods().Select(method => method.Name));
    }

    [Fact]
    public void CreateServiceConfig_NoSafeMethods_RoundRobinWithoutRetries()
    {
        var config = ServiceRetryPolicy.CreateServiceConfig([]);

        Assert.Single(config.LoadBalancingConfigs);
        Assert.Empty(config.MethodConfigs);
        Assert.Null(config.RetryThrottling);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Read_UnavailableThenServed_CallerGetsTheAnswer(int failFirst)
    {
        await using var probe = await ProbeHost.StartAsync();

        var reply = await probe.Client.ReadAsync(new ProbeRequest { FailFirst = failFirst, Key = Guid.NewGuid().ToString() }, deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal(failFirst + 1, reply.Attempts);
    }

    [Fact]
    public async Task KeyedWrite_UnavailableOnce_IsSentAgain()
    {
        await using var probe = await ProbeHost.StartAsync();
        var key = Guid.NewGuid().ToString();

        var reply = await probe.Client.KeyedWriteAsync(new ProbeRequest { FailFirst = 1, Key = key }, deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal(2, reply.Attempts);
        Assert.Equal(2, probe.Service.Attempts(key));
    }

    [Fact]
    public async Task Write_WithoutIdempotencyLevel_IsNeverSentTwice()
    {
        await using var probe = await ProbeHost.StartAsync();
        var key = Guid.NewGuid().ToString();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await probe.Client.WriteAsync(new ProbeRequest { FailFirst = 1, Key = key }, deadline: DateTime.UtcNow.AddSeconds(10)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, probe.Service.Attempts(key));
    }

    [Fact]
    public async Task Read_UnavailableEveryTime_StopsAfterMaxAttempts()
    {
        await using var probe = await ProbeHost.StartAsync();
        var key = Guid.NewGuid().ToString();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await probe.Client.ReadAsync(new ProbeRequest { FailFirst = 100, Key = key }, deadline: DateTime.UtcNow.AddSeconds(10)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(ServiceRetryPolicy.MaxAttempts, probe.Service.Attempts(key));
    }

    [Fact]
    public async Task Read_InvalidArgument_IsNotRetried()
    {
        await using var probe = await ProbeHost.StartAsync();
        var key = Guid.NewGuid().ToString();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await probe.Client.ReadAsync(new ProbeRequest { FailFirst = -1, Key = key }, deadline: DateTime.UtcNow.AddSeconds(10)));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(1, probe.Service.Attempts(key));
    }

    [Fact]
    public async Task Read_ServiceWithNoInstances_StillFailsWithUnavailableNamingIt()
    {
        await using var probe = await ProbeHost.StartAsync();
        var client = new Probe.ProbeClient(probe.App.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("nobody"));

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.ReadAsync(new ProbeRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("'nobody'", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_ManyCallsAllUnavailable_ThrottleStopsRetrying()
    {
        await using var probe = await ProbeHost.StartAsync();
        var keys = Enumerable.Range(0, 20).Select(_ => Guid.NewGuid().ToString()).ToList();

        foreach (var key in keys)
        {
            await Assert.ThrowsAsync<RpcException>(async () =>
                await probe.Client.ReadAsync(new ProbeRequest { FailFirst = 100, Key = key }, deadline: DateTime.UtcNow.AddSeconds(10)));
        }

        // Ten tokens, one spent per failed attempt, retries only above five: the first calls are
        // retried, the last ones are sent once.
        Assert.Equal(ServiceRetryPolicy.MaxAttempts, probe.Service.Attempts(keys[0]));
        Assert.All(keys.TakeLast(10), key => Assert.Equal(1, probe.Service.Attempts(key)));
    }

    [Fact]
    public async Task ServerCalls_CountedByServiceMethodAndCode_NotFoundIncluded()
    {
        var seen = new System.Collections.Concurrent.ConcurrentBag<(string Service, string Method, string Code)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, meters) =>
        {
            if (instrument.Name == Bulwark.Platform.Telemetry.GrpcServerMetricsInterceptor.CallsInstrument)
            {
                meters.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var copied = tags.ToArray();
            string Tag(string name) => copied.FirstOrDefault(tag => tag.Key == name).Value as string ?? "";
            seen.Add((Tag("grpc_service"), Tag("grpc_method"), Tag("code")));
        });
        listener.Start();
        await using var probe = await ProbeHost.StartAsync();

        await Assert.ThrowsAsync<RpcException>(async () =>
            await probe.Client.WriteAsync(new ProbeRequest { FailFirst = ProbeNotFound, Key = Guid.NewGuid().ToString() }, deadline: DateTime.UtcNow.AddSeconds(10)));
        await probe.Client.WriteAsync(new ProbeRequest { Key = Guid.NewGuid().ToString() }, deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Contains(("bulwark.platform.tests.v1.Probe", "Write", "NotFound"), seen);
        Assert.Contains(("bulwark.platform.tests.v1.Probe", "Write", "OK"), seen);
    }

    [Fact]
    public async Task Read_OnlyInstanceRestarting_RetriedUntilItIsBackWithinTheDeadline()
    {
        var port = FreePort();
        var registry = new InMemoryServiceRegistry();
        await using var caller = await ProbeHost.StartAsync(registry, serve: false);
        await using var _ = await registry.RegisterAsync(new ServiceInstance("probe", "probe-1", $"127.0.0.1:{port}", "1"), CancellationToken.None);
        var key = Guid.NewGuid().ToString();

        // Nothing listens on the instance's port for 1.5 s: a single writer between its stop and its restart.
        var call = caller.Client.ReadAsync(new ProbeRequest { Key = key }, deadline: DateTime.UtcNow.AddSeconds(8)).ResponseAsync;
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.False(call.IsCompleted, "the call gave up before the instance came back");
        await using var restarted = await ProbeHost.StartAsync(new InMemoryServiceRegistry(), serve: true, port);
        var reply = await call;

        Assert.Equal(1, reply.Attempts);
        Assert.Equal(1, restarted.Service.Attempts(key));
    }

    [Fact]
    public async Task Write_OnlyInstanceRestarting_NotRetriedFailsAtOnce()
    {
        var registry = new InMemoryServiceRegistry();
        await using var caller = await ProbeHost.StartAsync(registry, serve: false);
        await using var _ = await registry.RegisterAsync(new ServiceInstance("probe", "probe-1", $"127.0.0.1:{FreePort()}", "1"), CancellationToken.None);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await caller.Client.WriteAsync(new ProbeRequest { Key = Guid.NewGuid().ToString() }, deadline: DateTime.UtcNow.AddSeconds(8)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"a write without an idempotency level waited {clock.Elapsed} (was it retried?)");
    }

    [Fact]
    public async Task Read_ServiceScaledToZero_FailsAtOnceNotRetriedUntilTheDeadline()
    {
        var registry = new ScaledToZeroRegistry();
        await using var caller = await ProbeHost.StartAsync(registry, serve: false);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await caller.Client.ReadAsync(new ProbeRequest { Key = Guid.NewGuid().ToString() }, deadline: DateTime.UtcNow.AddSeconds(8)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("scaled to 0", error.Status.Detail, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"a call to a service scaled to 0 waited {clock.Elapsed}");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A registry whose every service is deliberately scaled to 0 (an authoritative empty view).</summary>
    private sealed class ScaledToZeroRegistry : IServiceRegistry
    {
        public ValueTask<IAsyncDisposable> RegisterAsync(ServiceInstance instance, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IAsyncDisposable>(new Nothing());

        public ServiceView GetView(string service) => new(service, [], 1, Authoritative: true) { Detail = $"Service '{service}' is scaled to 0 replicas." };

        public IDisposable Watch(string service, Action<ServiceView> onChange)
        {
            onChange(GetView(service));
            return new Nothing();
        }

        private sealed class Nothing : IAsyncDisposable, IDisposable
        {
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;

            public void Dispose()
            {
            }
        }
    }

    /// <summary>A fail_first that makes the probe answer NOT_FOUND.</summary>
    private const int ProbeNotFound = -2;

    private sealed class ProbeService : Probe.ProbeBase
    {
        private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);

        public int Attempts(string key) => _attempts.GetValueOrDefault(key);

        public override Task<ProbeReply> Read(ProbeRequest request, ServerCallContext context) => Answer(request);

        public override Task<ProbeReply> KeyedWrite(ProbeRequest request, ServerCallContext context) => Answer(request);

        public override Task<ProbeReply> Write(ProbeRequest request, ServerCallContext context) => Answer(request);

        private Task<ProbeReply> Answer(ProbeRequest request)
        {
            var attempt = _attempts.AddOrUpdate(request.Key, 1, (_, count) => count + 1);
            if (request.FailFirst == ProbeNotFound)
            {
                throw new RpcException(new Status(StatusCode.NotFound, "no such probe"));
            }
            if (request.FailFirst < 0)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "fail_first must not be negative"));
            }
            if (attempt <= request.FailFirst)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, $"attempt {attempt} refused on purpose"));
            }
            return Task.FromResult(new ProbeReply { Attempts = attempt });
        }
    }

    private sealed class ProbeHost(WebApplication app) : IAsyncDisposable
    {
        public WebApplication App { get; } = app;

        public ProbeService Service => App.Services.GetRequiredService<ProbeService>();

        public Probe.ProbeClient Client => App.Services.GetRequiredService<Probe.ProbeClient>();

        public static Task<ProbeHost> StartAsync() => StartAsync(new InMemoryServiceRegistry(), serve: true);

        /// <summary>A host that calls "probe" through <paramref name="registry"/>, and serves it (registered there) when <paramref name="serve"/>.</summary>
        public static async Task<ProbeHost> StartAsync(IServiceRegistry registry, bool serve, int port = 0)
        {
            var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
            {
                ConsoleLogLevel = LogLevel.Warning,
                InternalEndpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port),
            }, registry);
            if (serve)
            {
                builder.Services.AddHostedBulwarkService("probe");
            }
            builder.Services.AddSingleton<ProbeService>();
            builder.Services.AddServiceClient("probe", channel => new Probe.ProbeClient(channel));
            var app = builder.Build();
            app.UsePlatform();
            app.MapGrpcService<ProbeService>();
            await app.StartAsync();
            return new ProbeHost(app);
        }

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
