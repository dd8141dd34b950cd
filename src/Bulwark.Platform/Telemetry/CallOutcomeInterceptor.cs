using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Bulwark.Platform.Telemetry;

/// <summary>A service's own count of its calls by method and outcome (its requests counter).</summary>
public interface ICallOutcomeRecorder
{
    void RecordRequest(string method, StatusCode outcome);
}

/// <summary>
/// Counts every call of a service — unary and server-streaming — by method (the last segment of
/// the gRPC path) and outcome, whichever way it ends: the status of an RpcException, CANCELLED for a
/// call the caller gave up, INTERNAL for anything else. One interceptor for every service's own
/// counter (the accounts, feed, support and configuration services register it with their metrics).
/// </summary>
public sealed class CallOutcomeInterceptor<TRecorder>(TRecorder recorder) : Interceptor
    where TRecorder : ICallOutcomeRecorder
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var method = MethodName(context);
        try
        {
            var response = await continuation(request, context);
            recorder.RecordRequest(method, StatusCode.OK);
            return response;
        }
        catch (Exception error)
        {
            recorder.RecordRequest(method, Outcome(error, context));
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var method = MethodName(context);
        try
        {
            await continuation(request, responseStream, context);
            recorder.RecordRequest(method, StatusCode.OK);
        }
        catch (Exception error)
        {
            recorder.RecordRequest(method, Outcome(error, context));
            throw;
        }
    }

    private static string MethodName(ServerCallContext context) => context.Method[(context.Method.LastIndexOf('/') + 1)..];

    private static StatusCode Outcome(Exception error, ServerCallContext context) => error switch
    {
        RpcException rpc => rpc.StatusCode,
        OperationCanceledException when context.CancellationToken.IsCancellationRequested => StatusCode.Cancelled,
        _ => StatusCode.Internal,
    };
}
