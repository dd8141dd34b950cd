using Grpc.Core;

namespace Bulwark.Config.Tests;

public static class RpcAssert
{
    public static async Task<RpcException> FailsAsync(StatusCode expected, Func<Task> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(expected == error.StatusCode, $"Expected {expected}, got {error.StatusCode}: {error.Status.Detail}");
        return error;
    }

    /// <summary>INVALID_ARGUMENT whose message starts with the field's name and whose trailer names it.</summary>
    public static async Task<RpcException> InvalidAsync(string field, Func<Task> call)
    {
        var error = await FailsAsync(StatusCode.InvalidArgument, call);
        Assert.StartsWith(field + " ", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(field, error.Trailers.GetValue("bulwark-field"));
        return error;
    }
}
