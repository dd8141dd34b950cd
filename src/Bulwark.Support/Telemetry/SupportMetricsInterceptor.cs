using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Bulwark.Support.Telemetry;

/// <summary>Counts every support call by method and outcome, whichever way it ends.</summary>
internal sealed class SupportMetricsInterceptor(SupportMetrics metrics) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var method = context.Method[(context.Method.LastIndexOf('/') + 1)..];
        try
        {
            var response = await continuation(request, context);
            metrics.RecordRequest(method, StatusCode.OK);
            return response;
        }
        catch (RpcException error)
        {
            metrics.RecordRequest(method, error.StatusCode);
            throw;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            metrics.RecordRequest(method, StatusCode.Cancelled);
            throw;
        }
        catch
        {
            metrics.RecordRequest(method, StatusCode.Internal);
            throw;
        }
    }
}
