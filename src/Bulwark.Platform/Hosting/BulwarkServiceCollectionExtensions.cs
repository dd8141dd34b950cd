using Bulwark.Platform.Discovery;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Platform.Hosting;

public static class BulwarkServiceCollectionExtensions
{
    /// <summary>Declares that this process hosts <paramref name="service"/>; it is registered once ready.</summary>
    public static IServiceCollection AddHostedBulwarkService(this IServiceCollection services, string service)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        return services.AddSingleton(new HostedServiceName(service));
    }

    /// <summary>
    /// Registers a generated gRPC client for <paramref name="service"/>, reached through
    /// <c>bulwark:///service</c> — the only way services call each other, even in one process.
    /// The client's contract (its proto's idempotency levels) decides which calls are retried.
    /// </summary>
    public static IServiceCollection AddServiceClient<TClient>(this IServiceCollection services, string service, Func<CallInvoker, TClient> create)
        where TClient : class
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        if (ServiceContract.DescriptorOfClient(typeof(TClient)) is { } descriptor)
        {
            services.AddSingleton(new ServiceContract(service, descriptor));
        }
        return services.AddSingleton(provider => create(provider.GetRequiredService<IServiceChannelFactory>().GetChannel(service)));
    }

    /// <summary>
    /// Routes every call to <paramref name="service"/> through the invoker <paramref name="create"/>
    /// makes (once per process): <c>GetChannel(service)</c> returns it, so every client registered with
    /// <see cref="AddServiceClient"/> or made from that channel goes through it unchanged. The
    /// router reaches the parts of the service through the function it is given
    /// (<c>channelFor("ledger-a")</c>: that service's discovery channel, retrying the methods
    /// <paramref name="service"/>'s contract declares safe).
    /// </summary>
    public static IServiceCollection AddServiceRouter(this IServiceCollection services, string service, Func<IServiceProvider, Func<string, CallInvoker>, CallInvoker> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        return services.AddSingleton(new ServiceRouter(service, create));
    }
}
