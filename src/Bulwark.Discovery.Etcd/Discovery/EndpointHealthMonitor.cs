using System.Collections.Concurrent;
using Bulwark.Platform.Registry;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Bulwark.Discovery.Etcd.Discovery;

/// <summary>
/// Rule R4, the health half: probes every instance of the services this process routes to with
/// grpc.health.v1 and ejects those that fail <see cref="EtcdRegistryOptions.EjectAfterFailedProbes"/>
/// probes in a row; one good probe brings an instance back. How many may be ejected at once is
/// capped by <see cref="EtcdRegistryOptions.EjectedShareMax"/> in <see cref="Filter"/>.
/// Health checks, not a quiet registry, are what remove endpoints while discovery is stale.
/// </summary>
internal sealed class EndpointHealthMonitor(EtcdRegistryOptions options, Action<string> onChange) : IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);

    /// <summary>The view without its ejected instances, never ejecting more than the cap.</summary>
    public ServiceView Filter(ServiceView view)
    {
        if (view.Instances.Count == 0)
        {
            return view;
        }
        var ejectable = (int)Math.Floor(view.Instances.Count * options.EjectedShareMax);
        var ejected = view.Instances
            .Where(IsEjected)
            .OrderBy(instance => instance.InstanceId, StringComparer.Ordinal)
            .Take(ejectable)
            .ToHashSet();
        return ejected.Count == 0 ? view : view with { Instances = [.. view.Instances.Where(i => !ejected.Contains(i))] };
    }

    public bool IsEjected(ServiceInstance instance) =>
        _failures.TryGetValue(Key(instance), out var failures) && failures >= options.EjectAfterFailedProbes;

    /// <summary>Probes every instance once, in parallel, and reports services whose ejections changed.</summary>
    public async Task ProbeAsync(IReadOnlyList<ServiceView> views, CancellationToken cancellationToken)
    {
        var probes = views.SelectMany(view => view.Instances).Select(instance => ProbeOneAsync(instance, cancellationToken));
        var changed = await Task.WhenAll(probes).ConfigureAwait(false);
        foreach (var service in changed.OfType<string>().Distinct(StringComparer.Ordinal))
        {
            onChange(service);
        }
        Forget(views);
    }

    private async Task<string?> ProbeOneAsync(ServiceInstance instance, CancellationToken cancellationToken)
    {
        var key = Key(instance);
        var wasEjected = IsEjected(instance);
        bool healthy;
        try
        {
            var client = new Health.HealthClient(Channel(instance.Address));
            var reply = await client.CheckAsync(
                new HealthCheckRequest { Service = instance.Service },
                deadline: DateTime.UtcNow.AddSeconds(options.HealthProbeTimeoutSeconds),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            healthy = reply.Status == HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (RpcException) when (!cancellationToken.IsCancellationRequested)
        {
            healthy = false;
        }
        if (healthy)
        {
            _failures.TryRemove(key, out _);
        }
        else
        {
            _failures.AddOrUpdate(key, 1, (_, failures) => Math.Min(failures + 1, options.EjectAfterFailedProbes));
        }
        var isEjected = IsEjected(instance);
        if (isEjected && !wasEjected)
        {
            DiscoveryMetrics.Ejections.Add(1, new KeyValuePair<string, object?>("service", instance.Service));
        }
        return isEjected != wasEjected ? instance.Service : null;
    }

    private void Forget(IReadOnlyList<ServiceView> views)
    {
        var live = views.SelectMany(view => view.Instances).ToList();
        var liveKeys = live.Select(Key).ToHashSet(StringComparer.Ordinal);
        var liveAddresses = live.Select(instance => instance.Address).ToHashSet(StringComparer.Ordinal);
        foreach (var key in _failures.Keys.Where(key => !liveKeys.Contains(key)))
        {
            _failures.TryRemove(key, out _);
        }
        foreach (var address in _channels.Keys.Where(address => !liveAddresses.Contains(address)))
        {
            if (_channels.TryRemove(address, out var channel))
            {
                channel.Dispose();
            }
        }
    }

    private GrpcChannel Channel(string address) =>
        _channels.GetOrAdd(address, a => GrpcChannel.ForAddress($"http://{a}", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(options.HealthProbeTimeoutSeconds),
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            },
        }));

    private static string Key(ServiceInstance instance) => $"{instance.Service}/{instance.InstanceId}@{instance.Address}";

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
        _channels.Clear();
    }
}
