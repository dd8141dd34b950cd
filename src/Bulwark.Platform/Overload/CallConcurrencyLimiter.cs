using System.Diagnostics.Metrics;
using System.Globalization;
using Bulwark.Platform.Hosting;
using Bulwark.Platform.Telemetry;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Overload;

/// <summary>
/// Bounds the gRPC calls a process serves at once (<see cref="OverloadOptions"/>). A call past the
/// limit is refused at once — no queue — with <c>UNAVAILABLE</c>, the trailer
/// <see cref="OverloadedTrailer"/> and a <see cref="RetryAfterTrailer"/>: the caller's retry
/// policy sends a method that is safe to repeat to the next instance (round robin) a few times
/// within milliseconds, and the restart-gap retry does not ask again for seconds (a server that
/// answered is not a gap). Priority calls (<see cref="CallPriority"/>) may use the reserved share
/// that ordinary calls may not, so customer traffic is shed first. Health checks are never refused:
/// a busy instance is not a dead one.
/// </summary>
public sealed partial class CallConcurrencyLimiter : Interceptor
{
    public const string OverloadedTrailer = "bulwark-overloaded";
    public const string RetryAfterTrailer = "retry-after-ms";
    public const string ShedInstrument = "bulwark.grpc.server.shed";

    private const string HealthService = "/grpc.health.v1.Health/";

    private readonly OverloadOptions _options;
    private readonly Counter<long> _shed;
    private readonly ILogger<CallConcurrencyLimiter> _logger;
    private readonly string _retryAfter;
    private int _inFlight;
    private long _shedTotal;

    public CallConcurrencyLimiter(BulwarkHostOptions options, IMeterFactory meterFactory, ILogger<CallConcurrencyLimiter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meterFactory);
        _options = options.Overload;
        _logger = logger;
        _retryAfter = ((long)Math.Ceiling(_options.RetryAfter.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        _shed = meterFactory.Create(GrpcServerMetricsInterceptor.MeterName).CreateCounter<long>(ShedInstrument, "{call}",
            "gRPC calls refused because the process was at its limit of calls in flight, by priority.");
    }

    /// <summary>Calls being served now, for tests and diagnostics.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Calls refused since start, for tests and diagnostics (the metric is <see cref="ShedInstrument"/>).</summary>
    public long ShedTotal => Interlocked.Read(ref _shedTotal);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        if (context.Method.StartsWith(HealthService, StringComparison.Ordinal))
        {
            return await continuation(request, context);
        }
        var priority = CallPriority.IsPriority(context);
        var limit = priority ? _options.CallsInFlightMax : _options.OrdinaryCallsMax;
        if (Interlocked.Increment(ref _inFlight) > limit)
        {
            Interlocked.Decrement(ref _inFlight);
            throw Refuse(context, priority);
        }
        try
        {
            return await continuation(request, context);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private RpcException Refuse(ServerCallContext context, bool priority)
    {
        Interlocked.Increment(ref _shedTotal);
        _shed.Add(1, new KeyValuePair<string, object?>("priority", priority ? CallPriority.Cards : "ordinary"));
        LogShed(context.Method, priority);
        var trailers = new Metadata { { OverloadedTrailer, "true" }, { RetryAfterTrailer, _retryAfter } };
        return new RpcException(new Status(StatusCode.Unavailable,
            "Overloaded: this instance is at its limit of calls in flight and did not start this call. " +
            "Retry with the same idempotency key, on another instance or after the retry-after-ms trailer."), trailers);
    }

    [LoggerMessage(EventId = 1060, Level = LogLevel.Debug, Message = "Shed call {Method} (priority: {Priority}): at the limit of calls in flight")]
    private partial void LogShed(string method, bool priority);
}
