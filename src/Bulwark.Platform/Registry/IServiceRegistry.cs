namespace Bulwark.Platform.Registry;

/// <summary>
/// Where services announce themselves and where callers learn where they are. The embedded
/// implementation is in memory; the cluster implementation (later) is etcd, with instance
/// records bound to a lease so that a dead process disappears by itself.
/// </summary>
public interface IServiceRegistry
{
    /// <summary>Announces an instance. Disposing the result withdraws it.</summary>
    ValueTask<IAsyncDisposable> RegisterAsync(ServiceInstance instance, CancellationToken cancellationToken);

    /// <summary>The current view of one service, never null.</summary>
    ServiceView GetView(string service);

    /// <summary>
    /// Calls <paramref name="onChange"/> with every new view of <paramref name="service"/>
    /// (and once at once with the current one). Disposing the result stops the calls.
    /// </summary>
    IDisposable Watch(string service, Action<ServiceView> onChange);
}
