using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Platform.Discovery;

/// <summary>The one way a service reaches another: calls over a channel to <c>bulwark:///&lt;service&gt;</c>.</summary>
public interface IServiceChannelFactory
{
    /// <summary>The calls to <paramref name="service"/>: its load-balanced channel, with the restart-gap retry for safe methods.</summary>
    CallInvoker GetChannel(string service);
}

/// <summary>
/// Creates and caches one load-balanced gRPC channel per service, resolved through the
/// registry. Internal traffic is plaintext HTTP/2 on loopback or a private network. Calls to
/// the methods a service's contract declares safe to repeat are retried on <c>UNAVAILABLE</c>
/// (<see cref="ServiceRetryPolicy"/>).
/// </summary>
public sealed class ServiceChannelFactory(IServiceProvider serviceProvider) : IServiceChannelFactory, IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CallInvoker> _invokers = new(StringComparer.Ordinal);

    public CallInvoker GetChannel(string service)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        return _invokers.GetOrAdd(service, name => _channels.GetOrAdd(name, Create).Intercept(new RestartGapRetryInterceptor(
            name,
            serviceProvider.GetRequiredService<Registry.IServiceRegistry>(),
            Contracts(name).SelectMany(contract => contract.RetryableMethods()).Select(method => $"/{method.Service.FullName}/{method.Name}").ToHashSet(StringComparer.Ordinal),
            serviceProvider.GetService<TimeProvider>() ?? TimeProvider.System)));
    }

    private IEnumerable<ServiceContract> Contracts(string service) =>
        serviceProvider.GetServices<ServiceContract>().Where(contract => string.Equals(contract.Service, service, StringComparison.Ordinal));

    private GrpcChannel Create(string service) =>
        GrpcChannel.ForAddress($"{BulwarkResolverFactory.Scheme}:///{service}", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceProvider = serviceProvider,
            ServiceConfig = ServiceRetryPolicy.CreateServiceConfig(Contracts(service)),
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(20),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            },
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
        _channels.Clear();
    }
}
