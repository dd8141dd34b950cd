using Bulwark.Platform.Hosting;
using Grpc.Core;

namespace Bulwark.Platform.Tests.Hosting;

public sealed class CancellationTests
{
    [Fact]
    public void IsGivenUp_CancelledClientCallOfCancelledWork_True()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.True(Cancellation.IsGivenUp(new RpcException(new Status(StatusCode.Cancelled, "Call canceled by the client.")), cancelled.Token));
        Assert.True(Cancellation.IsGivenUp(new TaskCanceledException(), cancelled.Token));
    }

    [Fact]
    public void IsGivenUp_WorkNotCancelled_False()
    {
        Assert.False(Cancellation.IsGivenUp(new RpcException(new Status(StatusCode.Cancelled, "cancelled by the server")), CancellationToken.None));
        Assert.False(Cancellation.IsGivenUp(new OperationCanceledException(), CancellationToken.None));
    }

    [Fact]
    public void IsGivenUp_OtherFailureOfCancelledWork_False()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.False(Cancellation.IsGivenUp(new RpcException(new Status(StatusCode.Unavailable, "no ledger")), cancelled.Token));
        Assert.False(Cancellation.IsGivenUp(new InvalidOperationException("a bug"), cancelled.Token));
    }
}
