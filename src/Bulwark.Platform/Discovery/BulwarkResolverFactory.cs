using Bulwark.Platform.Registry;
using Grpc.Core;
using Grpc.Net.Client.Balancer;

namespace Bulwark.Platform.Discovery;

/// <summary>
/// Resolves <c>bulwark:///&lt;service&gt;</c> addresses through the <see cref="IServiceRegistry"/>:
/// every registry view of the service becomes the channel's address list.
/// </summary>
public sealed class BulwarkResolverFactory(IServiceRegistry registry) : ResolverFactory
{
    public const string Scheme = "bulwark";

    public override string Name => Scheme;

    public override Resolver Create(ResolverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var service = options.Address.AbsolutePath.Trim('/');
        if (service.Length == 0)
        {
            throw new ArgumentException($"A {Scheme} address names a service: {Scheme}:///<service>, got '{options.Address}'.", nameof(options));
        }
        return new BulwarkResolver(registry, service);
    }
}

/// <summary>
/// Pushes each view of one service to the channel. An empty view fails calls at once with
/// UNAVAILABLE naming the service, rather than letting them wait: a caller learns quickly and
/// clearly that nobody serves it, and no other service is affected.
/// </summary>
internal sealed class BulwarkResolver(IServiceRegistry registry, string service) : Resolver
{
    private IDisposable? _subscription;
    private Action<ResolverResult>? _listener;

    public override void Start(Action<ResolverResult> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        _listener = listener;
        _subscription = registry.Watch(service, view => listener(ToResult(view)));
    }

    /// <summary>
    /// The balancer asks again when a connection fails. The balancer ignores a resolver error
    /// while it still has a ready connection, so an empty view that arrived then (a service
    /// scaled to 0 draining its last instance) is pushed again now; off the caller's thread,
    /// because the balancer calls this while holding its own lock.
    /// </summary>
    public override void Refresh()
    {
        if (_listener is { } listener)
        {
            _ = Task.Run(() => listener(ToResult(registry.GetView(service))));
        }
    }

    internal static ResolverResult ToResult(ServiceView view)
    {
        if (view.Instances.Count == 0)
        {
            return ResolverResult.ForFailure(new Status(StatusCode.Unavailable, view.Detail ?? $"No instances of service '{view.Service}' are registered."));
        }
        var addresses = new List<BalancerAddress>(view.Instances.Count);
        foreach (var instance in view.Instances)
        {
            if (TryParseAddress(instance.Address, out var host, out var port))
            {
                addresses.Add(new BalancerAddress(host, port));
            }
        }
        return addresses.Count == 0
            ? ResolverResult.ForFailure(new Status(StatusCode.Unavailable, $"No usable address among {view.Instances.Count} instances of service '{view.Service}'."))
            : ResolverResult.ForResult(addresses);
    }

    internal static bool TryParseAddress(string address, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), out port) || port is <= 0 or > 65535)
        {
            return false;
        }
        host = address[..colon].Trim('[', ']');
        return host.Length > 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _subscription?.Dispose();
        }
        base.Dispose(disposing);
    }
}
