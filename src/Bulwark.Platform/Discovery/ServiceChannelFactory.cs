using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Platform.Discovery;

/// <summary>The one way a service reaches another: calls over a channel to <c>bulwark:///&lt;service&gt;</c>.</summary>
public interface IServiceChannelFactory
{
    /// <summary>
    /// The calls to <paramref name="service"/>: its load-balanced channel, with the restart-gap
    /// retry for safe methods; or, when a router is registered for it
    /// (<see cref="Hosting.BulwarkServiceCollectionExtensions.AddServiceRouter"/>), the router.
    /// </summary>
    CallInvoker GetChannel(string service);
}

/// <summary>
/// Creates and caches one load-balanced gRPC channel per service, resolved through the
/// registry. Internal traffic is plaintext HTTP/2 on loopback or a private network. Calls to
/// the methods a service's contract declares safe to repeat are retried on <c>UNAVAILABLE</c>
/// (<see cref="ServiceRetryPolicy"/>). A service with a registered <see cref="ServiceRouter"/>
/// is reached through it: the router decides which part of the service (e.g. which ledger cell)
/// each call goes to and reaches the parts through their own discovery channels.
/// </summary>
public sealed class ServiceChannelFactory(IServiceProvider serviceProvider) : IServiceChannelFactory, IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);
    // Lazy: a router is made once even when the first calls race.
    private readonly ConcurrentDictionary<string, Lazy<CallInvoker>> _invokers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CallInvoker> _discoveryInvokers = new(StringComparer.Ordinal);

    public CallInvoker GetChannel(string service)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        return _invokers.GetOrAdd(service, name => new Lazy<CallInvoker>(() => Router(name) is { } router
            ? router.Create(serviceProvider, DiscoveryChannel)
            : DiscoveryChannel(name))).Value;
    }

    private ServiceRouter? Router(string service) =>
        serviceProvider.GetServices<ServiceRouter>().LastOrDefault(router => string.Equals(router.Service, service, StringComparison.Ordinal));

    /// <summary>The load-balanced channel to the instances of <paramref name="service"/> that discovery knows, never a router.</summary>
    private CallInvoker DiscoveryChannel(string service)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        return _discoveryInvokers.GetOrAdd(service, name => _channels.GetOrAdd(name, Create).Intercept(new RestartGapRetryInterceptor(
            name,
            serviceProvider.GetRequiredService<Registry.IServiceRegistry>(),
            Contracts(name).SelectMany(contract => contract.RetryableMethods()).Select(method => $"/{method.Service.FullName}/{method.Name}").ToHashSet(StringComparer.Ordinal),
            serviceProvider.GetService<TimeProvider>() ?? TimeProvider.System)));
    }

    /// <summary>
    /// The contracts of <paramref name="service"/>. The parts of a routed service
    /// (<c>ledger-a</c> behind the router of <c>ledger</c>) serve its contract, so their channels
    /// retry the same safe methods.
    /// </summary>
    private IEnumerable<ServiceContract> Contracts(string service) =>
        serviceProvider.GetServices<ServiceContract>().Where(contract =>
            string.Equals(contract.Service, service, StringComparison.Ordinal)
            || (service.StartsWith(contract.Service + "-", StringComparison.Ordinal) && Router(contract.Service) is not null));

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

/// <summary>
/// A router registered for a service: every call to <see cref="Service"/> through the channel
/// factory goes to the invoker <see cref="Create"/> makes, given the provider and a function that
/// returns the discovery channel of any service (the parts it routes to, e.g. <c>ledger-a</c>).
/// </summary>
public sealed record ServiceRouter(string Service, Func<IServiceProvider, Func<string, CallInvoker>, CallInvoker> Create);
