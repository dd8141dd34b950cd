using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Bulwark.Config.Telemetry;

/// <summary>Counts every configuration call — unary and watch streams — by method and outcome, whichever way it ends.</summary>
internal sealed class ConfigMetricsInterceptor(ConfigMetrics metrics) : Interceptor
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
            metrics.RecordRequest(method, StatusCode.OK);
            return response;
        }
        catch (Exception error)
        {
            metrics.RecordRequest(method, Outcome(error, context));
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
            metrics.RecordRequest(method, StatusCode.OK);
        }
        catch (Exception error)
        {
            metrics.RecordRequest(method, Outcome(error, context));
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
