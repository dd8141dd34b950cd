using Bulwark.Discovery.Etcd.Api;
using Bulwark.Discovery.Etcd.Discovery;
using Bulwark.Platform.Registry;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Bulwark.Discovery.Etcd;

/// <summary>
/// This process's own records: one lease per process, kept alive on a stream that fails over like
/// the watch; every instance record is put with it, so a dead process disappears after the TTL.
/// A lease that expired anyway (a long partition) is granted again and every record is put again.
/// </summary>
public sealed partial class EtcdServiceRegistry
{
    private readonly SemaphoreSlim _leaseGate = new(1, 1);
    private readonly SemaphoreSlim _registrationsChanged = new(0, int.MaxValue);
    private readonly Dictionary<string, byte[]> _registrations = new(StringComparer.Ordinal);
    private readonly int _leaseTtlSeconds;
    private long _leaseId;
    private bool _needsPut;

    /// <inheritdoc/>
    public async ValueTask<IAsyncDisposable> RegisterAsync(ServiceInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentException.ThrowIfNullOrWhiteSpace(instance.Service);
        ArgumentException.ThrowIfNullOrWhiteSpace(instance.Address);
        if (instance.Service.Contains('/', StringComparison.Ordinal) || instance.InstanceId.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException("Service names and instance ids cannot contain '/'.", nameof(instance));
        }
        var key = InstanceKey(instance.Service, instance.InstanceId);
        var value = DiscoveryRecords.Serialize(new InstanceRecord(instance.Address, instance.Version, _time.GetUtcNow()));
        lock (_registrations)
        {
            _registrations[key] = value;
        }
        // Start-up never waits on etcd: the put is tried for a bounded time, then left to the lease
        // loop, which puts every registration as soon as etcd answers.
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(TimeSpan.FromSeconds(_options.RegisterWaitSeconds));
        var gated = false;
        try
        {
            await _leaseGate.WaitAsync(bounded.Token).ConfigureAwait(false);
            gated = true;
            await EnsureLeaseAsync(bounded.Token).ConfigureAwait(false);
            await PutAsync(key, value, bounded.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (EtcdCluster.IsNotAnswering(exception) && !cancellationToken.IsCancellationRequested)
        {
            _needsPut = true;
            LogRegisterDeferred(key, EtcdCluster.Describe(exception));
        }
        finally
        {
            if (gated)
            {
                _leaseGate.Release();
            }
        }
        _registrationsChanged.Release();
        return new Registration(this, key);
    }

    /// <summary>The key of one instance record.</summary>
    public string InstanceKey(string service, string instanceId) => $"{_options.KeyPrefix}services/{service}/{instanceId}";

    /// <summary>The key of a service's deployment record.</summary>
    public string DeploymentKey(string service) => $"{_options.KeyPrefix}deployments/{service}";

    /// <summary>Writes the desired state of a service (replicas, version).</summary>
    public Task SetDeploymentAsync(string service, DeploymentRecord deployment, CancellationToken cancellationToken) =>
        PutRawAsync(DeploymentKey(service), DiscoveryRecords.Serialize(deployment), cancellationToken);

    /// <summary>Writes any value under a key without a lease (operators' tools and tests).</summary>
    public Task PutRawAsync(string key, byte[] value, CancellationToken cancellationToken) =>
        _cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value) }, options).ResponseAsync,
            cancellationToken);

    /// <summary>Deletes one key (operators' tools and tests).</summary>
    public Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        _cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).DeleteRangeAsync(new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key) }, options).ResponseAsync,
            cancellationToken);

    private async Task EnsureLeaseAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _leaseId) != 0)
        {
            return;
        }
        var granted = await _cluster.CallAsync(
            (channel, options) => new Lease.LeaseClient(channel).LeaseGrantAsync(new LeaseGrantRequest { TTL = _leaseTtlSeconds }, options).ResponseAsync,
            cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(granted.Error))
        {
            throw new EtcdUnavailableException($"etcd refused a lease: {granted.Error}", null);
        }
        Interlocked.Exchange(ref _leaseId, granted.ID);
        _needsPut = true;
        LogLeaseGranted(granted.ID, granted.TTL);
    }

    private async Task PutAllAsync(CancellationToken cancellationToken)
    {
        KeyValuePair<string, byte[]>[] records;
        lock (_registrations)
        {
            records = [.. _registrations];
        }
        foreach (var (key, value) in records)
        {
            await PutAsync(key, value, cancellationToken).ConfigureAwait(false);
        }
        _needsPut = false;
    }

    private Task PutAsync(string key, byte[] value, CancellationToken cancellationToken)
    {
        var lease = Interlocked.Read(ref _leaseId);
        return _cluster.CallAsync(
            (channel, options) => new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value), Lease = lease }, options).ResponseAsync,
            cancellationToken);
    }

    private async Task RunLeaseAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                int count;
                lock (_registrations)
                {
                    count = _registrations.Count;
                }
                if (count == 0 && Interlocked.Read(ref _leaseId) == 0)
                {
                    await _registrationsChanged.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
                await _leaseGate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await EnsureLeaseAsync(cancellationToken).ConfigureAwait(false);
                    if (_needsPut)
                    {
                        await PutAllAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _leaseGate.Release();
                }
                await KeepAliveOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (EtcdCluster.IsNotAnswering(exception))
            {
                LogKeepAliveProblem(exception.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Keeps the lease alive on the current member, one request per fifth of the TTL. Ends (and
    /// moves to the next member) when no answer came for half the TTL; ends with the lease
    /// forgotten when etcd says it expired.
    /// </summary>
    private async Task KeepAliveOnceAsync(CancellationToken cancellationToken)
    {
        var endpoint = _cluster.Current;
        var leaseId = Interlocked.Read(ref _leaseId);
        using var stream = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var call = new Lease.LeaseClient(_cluster.CurrentChannel).LeaseKeepAlive(cancellationToken: stream.Token);
        var lastAnswer = _time.GetTimestamp();
        var expired = 0;
        var reader = Task.Run(async () =>
        {
            while (await call.ResponseStream.MoveNext(stream.Token).ConfigureAwait(false))
            {
                if (call.ResponseStream.Current.TTL <= 0)
                {
                    Interlocked.Exchange(ref expired, 1);
                    await stream.CancelAsync().ConfigureAwait(false);
                    return;
                }
                Interlocked.Exchange(ref lastAnswer, _time.GetTimestamp());
            }
        }, CancellationToken.None);
        var interval = TimeSpan.FromSeconds(Math.Max(0.2, _leaseTtlSeconds / 5.0));
        var silentMax = TimeSpan.FromSeconds(_leaseTtlSeconds / 2.0);
        Task? pendingWrite = null;
        try
        {
            while (!stream.IsCancellationRequested && !reader.IsCompleted)
            {
                if (pendingWrite is null || pendingWrite.IsCompleted)
                {
                    pendingWrite = call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }, stream.Token);
                }
                await Task.Delay(interval, _time, stream.Token).ConfigureAwait(false);
                if (_time.GetElapsedTime(Interlocked.Read(ref lastAnswer)) > silentMax)
                {
                    _cluster.Failover(endpoint, "lease keep-alive unanswered");
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The reader ended the stream: the lease expired, handled below.
        }
        finally
        {
            await stream.CancelAsync().ConfigureAwait(false);
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is RpcException or OperationCanceledException or IOException)
            {
                if (!cancellationToken.IsCancellationRequested && Volatile.Read(ref expired) == 0)
                {
                    _cluster.Failover(endpoint, "lease keep-alive stream failed");
                }
            }
        }
        if (Volatile.Read(ref expired) == 1)
        {
            Interlocked.CompareExchange(ref _leaseId, 0, leaseId);
            LogLeaseExpired(leaseId);
        }
    }

    private async Task RevokeLeaseAsync()
    {
        var leaseId = Interlocked.Exchange(ref _leaseId, 0);
        lock (_registrations)
        {
            _registrations.Clear();
        }
        if (leaseId == 0)
        {
            return;
        }
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_options.CallTimeoutSeconds));
            await _cluster.CallAsync(
                (channel, options) => new Lease.LeaseClient(channel).LeaseRevokeAsync(new LeaseRevokeRequest { ID = leaseId }, options).ResponseAsync,
                timeout.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (EtcdCluster.IsNotAnswering(exception))
        {
            // The lease expires by itself after its TTL.
            LogKeepAliveProblem(exception.Message);
        }
    }

    private async Task DeregisterAsync(string key)
    {
        lock (_registrations)
        {
            _registrations.Remove(key);
        }
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_options.CallTimeoutSeconds * 2));
            await DeleteAsync(key, timeout.Token).ConfigureAwait(false);
            LogDeregistered(key);
        }
        catch (Exception exception) when (EtcdCluster.IsNotAnswering(exception))
        {
            // The record goes when the lease does; callers' health checks eject it before.
            LogKeepAliveProblem(exception.Message);
        }
    }

    private sealed class Registration(EtcdServiceRegistry registry, string key) : IAsyncDisposable
    {
        private int _disposed;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0 && !registry.IsDisposed)
            {
                await registry.DeregisterAsync(key).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(EventId = 4020, Level = LogLevel.Information, Message = "Lease {LeaseId} granted, TTL {Ttl} s")]
    private partial void LogLeaseGranted(long leaseId, long ttl);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Warning, Message = "Lease {LeaseId} expired; granting a new one and registering again")]
    private partial void LogLeaseExpired(long leaseId);

    [LoggerMessage(EventId = 4022, Level = LogLevel.Warning, Message = "Lease keep-alive: {Problem}")]
    private partial void LogKeepAliveProblem(string problem);

    [LoggerMessage(EventId = 4023, Level = LogLevel.Warning, Message = "etcd unreachable: {Key} will be registered when it answers ({Problem})")]
    private partial void LogRegisterDeferred(string key, string problem);

    [LoggerMessage(EventId = 4024, Level = LogLevel.Information, Message = "Deregistered {Key}")]
    private partial void LogDeregistered(string key);
}
