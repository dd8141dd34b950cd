using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Bulwark.Cli.Operator;

/// <summary>
/// The one place operator commands (<c>bulwark customers ...</c>) obtain the credentials their
/// calls carry. Today there are none: the internal contracts trust every caller that can reach
/// them (loopback, or the cluster's private network), so reading customer data from the command
/// line is neither authenticated as staff nor audited. Issue 14 changes that here — a staff token
/// and a stated reason per call, checked and audited by the services — and nowhere else.
/// </summary>
internal static class OperatorCredentials
{
    /// <summary>The headers every operator call sends; empty while there are no credentials to send.</summary>
    public static Metadata Headers() => [];
}

/// <summary>
/// Puts the operator's credentials (<see cref="OperatorCredentials"/>) and a deadline on every call
/// of an operator's clients — the commands' own calls and those of the demo seeder they reuse alike.
/// </summary>
internal sealed class OperatorCallInterceptor(TimeSpan callTimeout) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var headers = context.Options.Headers ?? [];
        foreach (var entry in OperatorCredentials.Headers())
        {
            headers.Add(entry);
        }
        var options = context.Options.WithHeaders(headers).WithDeadline(context.Options.Deadline ?? DateTime.UtcNow + callTimeout);
        return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, options));
    }

    /// <summary>A stream (a configuration watch) carries the credentials too; its deadline is the command's own, or none.</summary>
    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var headers = context.Options.Headers ?? [];
        foreach (var entry in OperatorCredentials.Headers())
        {
            headers.Add(entry);
        }
        return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers)));
    }
}
