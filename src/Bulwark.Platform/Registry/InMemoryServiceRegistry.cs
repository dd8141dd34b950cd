namespace Bulwark.Platform.Registry;

/// <summary>
/// The embedded registry: one process, so the view is always fresh and authoritative.
/// Thread-safe; watchers are called outside the lock, in registration order.
/// </summary>
public sealed class InMemoryServiceRegistry : IServiceRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<ServiceInstance>> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Action<ServiceView>>> _watchers = new(StringComparer.Ordinal);
    private long _revision;

    public ValueTask<IAsyncDisposable> RegisterAsync(ServiceInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentException.ThrowIfNullOrWhiteSpace(instance.Service);
        ArgumentException.ThrowIfNullOrWhiteSpace(instance.Address);
        cancellationToken.ThrowIfCancellationRequested();
        Change(instance.Service, list =>
        {
            list.RemoveAll(existing => existing.InstanceId == instance.InstanceId);
            list.Add(instance);
        });
        return ValueTask.FromResult<IAsyncDisposable>(new Registration(this, instance));
    }

    public ServiceView GetView(string service)
    {
        lock (_lock)
        {
            return ViewLocked(service);
        }
    }

    public IDisposable Watch(string service, Action<ServiceView> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        ServiceView current;
        lock (_lock)
        {
            if (!_watchers.TryGetValue(service, out var list))
            {
                list = [];
                _watchers[service] = list;
            }
            list.Add(onChange);
            current = ViewLocked(service);
        }
        onChange(current);
        return new Subscription(this, service, onChange);
    }

    private void Deregister(ServiceInstance instance) =>
        Change(instance.Service, list => list.RemoveAll(existing => existing.InstanceId == instance.InstanceId));

    private void Change(string service, Action<List<ServiceInstance>> mutate)
    {
        ServiceView view;
        Action<ServiceView>[] watchers;
        lock (_lock)
        {
            if (!_instances.TryGetValue(service, out var list))
            {
                list = [];
                _instances[service] = list;
            }
            mutate(list);
            _revision++;
            view = ViewLocked(service);
            watchers = _watchers.TryGetValue(service, out var w) ? [.. w] : [];
        }
        foreach (var watcher in watchers)
        {
            watcher(view);
        }
    }

    private ServiceView ViewLocked(string service) =>
        _instances.TryGetValue(service, out var list)
            ? new ServiceView(service, [.. list], _revision, Authoritative: true)
            : new ServiceView(service, [], _revision, Authoritative: true);

    private sealed class Registration(InMemoryServiceRegistry registry, ServiceInstance instance) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                registry.Deregister(instance);
            }
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Subscription(InMemoryServiceRegistry registry, string service, Action<ServiceView> onChange) : IDisposable
    {
        public void Dispose()
        {
            lock (registry._lock)
            {
                if (registry._watchers.TryGetValue(service, out var list))
                {
                    list.Remove(onChange);
                }
            }
        }
    }
}
