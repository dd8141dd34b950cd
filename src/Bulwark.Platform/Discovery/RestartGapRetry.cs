using Bulwark.Platform.Registry;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Bulwark.Platform.Discovery;

/// <summary>
/// Covers the gap while the only instance of a service restarts (a single-writer service on
/// SQLite is stopped before its successor starts; a process the supervisor brings back takes a
/// few seconds): a call to a method the contract declares safe to repeat that fails with
/// <c>UNAVAILABLE</c> is sent again after a growing pause, for as long as the call's own deadline
/// leaves room, when no instance could be reached (see <see cref="IsGap"/>). gRPC's own retry
/// policy (<see cref="ServiceRetryPolicy"/>) covers the first fraction of a second; this covers
/// seconds. Never when the service is authoritatively scaled to zero: those callers fail at once (R2).
/// </summary>
internal sealed class RestartGapRetryInterceptor(string service, IServiceRegistry registry, IReadOnlySet<string> retryableMethods, TimeProvider time) : Interceptor
{
    /// <summary>Attempts per call, the first included, counting only this interceptor's own retries.</summary>
    public const int AttemptsMax = 8;

    /// <summary>The first pause; doubled for each further attempt, up to <see cref="PauseMax"/>.</summary>
    public static readonly TimeSpan PauseInitial = TimeSpan.FromMilliseconds(100);

    public static readonly TimeSpan PauseMax = TimeSpan.FromSeconds(1);

    /// <summary>A call without a deadline retries for this long at most.</summary>
    public static readonly TimeSpan WithoutDeadlineMax = TimeSpan.FromSeconds(5);

    /// <summary>A retry is only sent when at least this much of the deadline is left after the pause.</summary>
    public static readonly TimeSpan AttemptTimeMin = TimeSpan.FromMilliseconds(200);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        if (!retryableMethods.Contains(context.Method.FullName))
        {
            return continuation(request, context);
        }
        var current = continuation(request, context);
        var response = RetryAsync(request, context, continuation, current, call => current = call);
        return new AsyncUnaryCall<TResponse>(
            response,
            HeadersAsync(response, () => current),
            () => current.GetStatus(),
            () => current.GetTrailers(),
            () => current.Dispose());
    }

    private async Task<TResponse> RetryAsync<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation,
        AsyncUnaryCall<TResponse> first, Action<AsyncUnaryCall<TResponse>> setCurrent)
        where TRequest : class
        where TResponse : class
    {
        var started = time.GetUtcNow();
        var until = context.Options.Deadline is { } deadline && deadline != DateTime.MaxValue
            ? new DateTimeOffset(deadline.ToUniversalTime(), TimeSpan.Zero)
            : started + WithoutDeadlineMax;
        var call = first;
        var pause = PauseInitial;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable
                && attempt < AttemptsMax
                && !context.Options.CancellationToken.IsCancellationRequested
                && until - time.GetUtcNow() > pause + AttemptTimeMin
                && IsGap(error))
            {
                // Tried again below, after the pause.
            }
            await Task.Delay(pause, time, context.Options.CancellationToken).ConfigureAwait(false);
            pause = pause * 2 < PauseMax ? pause * 2 : PauseMax;
            call.Dispose();
            call = continuation(request, context);
            setCurrent(call);
        }
    }

    /// <summary>
    /// True when no instance could be reached: the connection failed (the client made the status,
    /// with the transport's exception), or the service has no instance right now without being
    /// scaled to zero (between the stop of a single writer and the start of its successor). A
    /// server that answered <c>UNAVAILABLE</c> itself has already tried its own dependencies and is
    /// not asked again here (gRPC's own policy gives it its few quick retries); a service scaled to
    /// zero is never retried (R2: fail fast, naming it).
    /// </summary>
    private bool IsGap(RpcException error)
    {
        var view = registry.GetView(service);
        if (view.Authoritative && view.Instances.Count == 0)
        {
            return false;
        }
        return error.Status.DebugException is not null || view.Instances.Count == 0;
    }

    private static async Task<Metadata> HeadersAsync<TResponse>(Task<TResponse> response, Func<AsyncUnaryCall<TResponse>> current)
    {
        try
        {
            await response.ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The headers of the last attempt are still there to read.
        }
        return await current().ResponseHeadersAsync.ConfigureAwait(false);
    }
}
