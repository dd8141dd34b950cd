using Grpc.Core;

namespace Bulwark.Platform.Hosting;

/// <summary>
/// Tells a call somebody gave up on from a failure. When a caller cancels (a client that went away,
/// a connection that closed, a host that is stopping), the work done for it ends in an
/// <see cref="OperationCanceledException"/>, or in gRPC's CANCELLED when it was waiting on a
/// client call of its own, cancelled with it. That is no fault of the bank: it is logged as one
/// line, never with a stack trace, and never counted as an error.
/// </summary>
public static class Cancellation
{
    /// <summary>
    /// True when <paramref name="error"/> is the cancellation of work whose
    /// <paramref name="cancellationToken"/> was cancelled: an <see cref="OperationCanceledException"/>,
    /// or an <see cref="RpcException"/> with CANCELLED. A CANCELLED answer while the token is not
    /// cancelled is something else (a server that cancelled on its own) and is not matched.
    /// </summary>
    public static bool IsGivenUp(Exception error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(error);
        return cancellationToken.IsCancellationRequested
            && error is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled };
    }
}
