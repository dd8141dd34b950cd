using Grpc.Core;

namespace Bulwark.Edge.Services;

/// <summary>
/// Makes every gRPC call of the edge with a deadline and the request's cancellation, and tags a
/// failure with the service that gave it.
/// </summary>
internal sealed class ServiceCaller(TimeSpan timeout)
{
    /// <summary>The app API's caller: its options' deadline.</summary>
    public ServiceCaller(EdgeOptions options)
        : this(options.ServiceCallTimeout)
    {
    }

    public const string Accounts = "accounts";
    public const string Feed = "feed";
    public const string Ledger = "ledger";
    public const string Support = "support";

    /// <summary>A caller whose deadline also covers a long-poll's <paramref name="wait"/> (the service answers at its end, not before).</summary>
    public ServiceCaller WaitingFor(TimeSpan wait) => new(timeout + wait);

    public Task<TResponse> CallAsync<TResponse>(string service, Func<CallOptions, AsyncUnaryCall<TResponse>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        return RunAsync(service, async options => await call(options), cancellationToken);
    }

    /// <summary>As <see cref="CallAsync"/> for work that makes its calls to <paramref name="service"/> with the options given.</summary>
    public async Task<TResult> RunAsync<TResult>(string service, Func<CallOptions, Task<TResult>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        // The deadline travels on the wire and is compared with real clocks on the other side, so it
        // comes from the wall clock rather than the injectable TimeProvider.
        var callOptions = new CallOptions(deadline: DateTime.UtcNow.Add(timeout), cancellationToken: cancellationToken);
        try
        {
            return await call(callOptions);
        }
        catch (RpcException error)
        {
            throw new ServiceCallException(service, error);
        }
    }
}
