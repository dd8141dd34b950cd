using Bulwark.Platform.Discovery;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Overload;
using Bulwark.Platform.Registry;
using Bulwark.Platform.Tests.Protos;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Tests.Overload;

/// <summary>
/// A process at its limit of calls in flight refuses the next call at once (UNAVAILABLE, marked
/// overloaded, with a retry-after) instead of queueing it; priority calls use the reserved share.
/// Limits here: 3 in flight, 1 of them reserved, so 2 ordinary calls fill it.
/// </summary>
public sealed class CallConcurrencyLimiterTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Call_OrdinaryShareFull_RefusedWithoutWaitingForTheSlowCalls()
    {
        await using var host = await SlowProbeHost.StartAsync();
        var slow = await host.FillOrdinaryShareAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.WriteAsync(new ProbeRequest { Key = "next" }, deadline: DateTime.UtcNow.Add(Bound)));
        // Answered while the slow calls still hold their places: it did not wait for them.
        var slowStillRunning = slow.All(call => !call.IsCompleted);
        host.Service.Release();
        await Task.WhenAll(slow).WaitAsync(Bound);
        var after = await host.Client.WriteAsync(new ProbeRequest { Key = "after" }, deadline: DateTime.UtcNow.Add(Bound));

        Assert.True(slowStillRunning);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal("true", error.Trailers.GetValue(CallConcurrencyLimiter.OverloadedTrailer));
        Assert.Equal("1000", error.Trailers.GetValue(CallConcurrencyLimiter.RetryAfterTrailer));
        Assert.Contains("same idempotency key", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, after.Attempts);
        Assert.Equal(0, host.Limiter.InFlight);
    }

    [Fact]
    public async Task PriorityCall_OrdinaryTrafficShed_StillAnswered()
    {
        await using var host = await SlowProbeHost.StartAsync();
        var slow = await host.FillOrdinaryShareAsync();

        var ordinary = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.WriteAsync(new ProbeRequest { Key = "customer" }, deadline: DateTime.UtcNow.Add(Bound)));
        var priority = await host.PriorityClient.WriteAsync(new ProbeRequest { Key = "authorisation" }, deadline: DateTime.UtcNow.Add(Bound));
        host.Service.Release();
        await Task.WhenAll(slow).WaitAsync(Bound);

        Assert.Equal(StatusCode.Unavailable, ordinary.StatusCode);
        Assert.Equal(1, priority.Attempts);
        Assert.Equal(1, host.Limiter.ShedTotal);
    }

    [Fact]
    public async Task SafeCall_OnlyInstanceFull_RetriedOnlyByTheQuickPolicyNotUntilTheDeadline()
    {
        await using var host = await SlowProbeHost.StartAsync();
        var slow = await host.FillOrdinaryShareAsync();

        // A read is safe to repeat: gRPC's policy tries it again (on the next instance, here the
        // same one), but the restart-gap retry must not keep asking a full instance for seconds.
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.ReadAsync(new ProbeRequest { Key = "read" }, deadline: DateTime.UtcNow.Add(Bound)));
        var slowStillRunning = slow.All(call => !call.IsCompleted);
        host.Service.Release();
        await Task.WhenAll(slow).WaitAsync(Bound);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.True(slowStillRunning);
        Assert.InRange(host.Limiter.ShedTotal, 1, ServiceRetryPolicy.MaxAttempts);
    }

    [Fact]
    public async Task SafeCall_OneOfTwoInstancesFull_AnsweredByTheOther()
    {
        var registry = new InMemoryServiceRegistry();
        await using var full = await SlowProbeHost.StartAsync(registry);
        await using var free = await SlowProbeHost.StartAsync(registry);
        // Until both instances have answered, the balancer may not have connected to both.
        using (var warm = new CancellationTokenSource(Bound))
        {
            while (full.Service.Answered == 0 || free.Service.Answered == 0)
            {
                await full.Client.ReadAsync(new ProbeRequest { Key = "warm" }, cancellationToken: warm.Token);
            }
        }
        var slow = await full.FillOrdinaryShareAsync(full.DirectClient());

        // Round robin sends some of these to the full instance first; each refused one is sent
        // again at once, to the next instance.
        var replies = new List<ProbeReply>();
        for (var i = 0; i < 4; i++)
        {
            replies.Add(await full.Client.ReadAsync(new ProbeRequest { Key = $"read-{i}" }, deadline: DateTime.UtcNow.Add(Bound)));
        }
        var slowStillRunning = slow.All(call => !call.IsCompleted);
        full.Service.Release();
        await Task.WhenAll(slow).WaitAsync(Bound);

        Assert.Equal(4, replies.Count);
        Assert.True(slowStillRunning);
        Assert.InRange(full.Limiter.ShedTotal, 1, 4);
        Assert.Equal(0, free.Limiter.ShedTotal);
    }

    [Fact]
    public async Task HealthCheck_ProcessFull_StillAnswered()
    {
        await using var host = await SlowProbeHost.StartAsync();
        var slow = await host.FillOrdinaryShareAsync();
        // The reserved share is full too: every place is taken.
        using var slowPriority = host.PriorityClient.WriteAsync(new ProbeRequest { Key = "slow-priority" }, deadline: DateTime.UtcNow.Add(Bound));
        await slowPriority.ResponseHeadersAsync.WaitAsync(Bound);

        var health = new Grpc.Health.V1.Health.HealthClient(host.Channel);
        var reply = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: DateTime.UtcNow.Add(Bound));
        host.Service.Release();
        await Task.WhenAll([.. slow, slowPriority.ResponseAsync]).WaitAsync(Bound);

        Assert.Equal(3, host.Service.Held);
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(4, 4)]
    [InlineData(4, -1)]
    [InlineData(OverloadLimits.CallsInFlightMaxMax + 1, 0)]
    public void Validate_UnworkableLimits_Throw(int callsInFlightMax, int priorityReserved)
    {
        var options = new OverloadOptions { CallsInFlightMax = callsInFlightMax, PriorityCallsReserved = priorityReserved };

        Assert.ThrowsAny<ArgumentException>(options.Validate);
    }

    [Fact]
    public void CreateBuilder_UnworkableLimits_ThrowsAtStart()
    {
        var options = new BulwarkHostOptions { Overload = new OverloadOptions { CallsInFlightMax = 4, PriorityCallsReserved = 4 } };

        Assert.ThrowsAny<ArgumentException>(() => BulwarkHost.CreateBuilder(options, new InMemoryServiceRegistry()));
    }

    [Fact]
    public void Defaults_AreValid()
    {
        new OverloadOptions().Validate();

        Assert.Equal(OverloadLimits.CallsInFlightMaxDefault - OverloadLimits.PriorityCallsReservedDefault, new OverloadOptions().OrdinaryCallsMax);
    }

    /// <summary>Holds every call whose key starts with "slow" until <see cref="Release"/>.</summary>
    private sealed class SlowProbeService : Probe.ProbeBase
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _held;
        private int _answered;

        public int Held => Volatile.Read(ref _held);

        public int Answered => Volatile.Read(ref _answered);

        public void Release() => _release.TrySetResult();

        public override Task<ProbeReply> Read(ProbeRequest request, ServerCallContext context) => AnswerAsync(request, context);

        public override Task<ProbeReply> KeyedWrite(ProbeRequest request, ServerCallContext context) => AnswerAsync(request, context);

        public override Task<ProbeReply> Write(ProbeRequest request, ServerCallContext context) => AnswerAsync(request, context);

        private async Task<ProbeReply> AnswerAsync(ProbeRequest request, ServerCallContext context)
        {
            if (request.Key.StartsWith("slow", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _held);
                await context.WriteResponseHeadersAsync([]);
                await _release.Task.WaitAsync(Bound, context.CancellationToken);
            }
            Interlocked.Increment(ref _answered);
            return new ProbeReply { Attempts = 1 };
        }
    }

    private sealed class SlowProbeHost(WebApplication app) : IAsyncDisposable
    {
        public WebApplication App { get; } = app;

        public SlowProbeService Service => App.Services.GetRequiredService<SlowProbeService>();

        public CallConcurrencyLimiter Limiter => App.Services.GetRequiredService<CallConcurrencyLimiter>();

        public CallInvoker Channel => App.Services.GetRequiredService<IServiceChannelFactory>().GetChannel("probe");

        public Probe.ProbeClient Client => App.Services.GetRequiredService<Probe.ProbeClient>();

        public Probe.ProbeClient PriorityClient => new(Channel.WithPriority());

        public static async Task<SlowProbeHost> StartAsync(IServiceRegistry? registry = null)
        {
            var builder = BulwarkHost.CreateBuilder(new BulwarkHostOptions
            {
                ConsoleLogLevel = LogLevel.Warning,
                Overload = new OverloadOptions { CallsInFlightMax = 3, PriorityCallsReserved = 1 },
            }, registry ?? new InMemoryServiceRegistry());
            builder.Services.AddHostedBulwarkService("probe");
            builder.Services.AddSingleton<SlowProbeService>();
            builder.Services.AddServiceClient("probe", channel => new Probe.ProbeClient(channel));
            var app = builder.Build();
            app.UsePlatform();
            app.MapGrpcService<SlowProbeService>();
            await app.StartAsync();
            return new SlowProbeHost(app);
        }

        /// <summary>A client of this instance alone (not through discovery).</summary>
        public Probe.ProbeClient DirectClient()
        {
            var port = App.Services.GetRequiredService<InternalEndpointAccessor>().Get().Port;
            return new Probe.ProbeClient(Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{port}"));
        }

        /// <summary>Two ordinary calls that the service holds: the ordinary share (3 - 1 reserved) is full once both have arrived.</summary>
        public async Task<Task[]> FillOrdinaryShareAsync(Probe.ProbeClient? client = null)
        {
            client ??= Client;
            var calls = new List<AsyncUnaryCall<ProbeReply>>();
            for (var i = 0; i < 2; i++)
            {
                var call = client.WriteAsync(new ProbeRequest { Key = $"slow-{i}" }, deadline: DateTime.UtcNow.Add(Bound));
                // The service sends headers once it holds the call: then the call is in flight.
                await call.ResponseHeadersAsync.WaitAsync(Bound);
                calls.Add(call);
            }
            return [.. calls.Select(call => (Task)call.ResponseAsync)];
        }

        public async ValueTask DisposeAsync()
        {
            Service.Release();
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
