using System.Net;
using Bulwark.Platform.Registry;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Hosting;

/// <summary>
/// Registers this process's services once the server listens, and on shutdown withdraws them
/// first — before the server stops taking calls — so that callers move away while in-flight
/// calls still complete (register only when ready; deregister, drain, then stop).
/// </summary>
/// <summary>
/// Announces a service this process starts serving after it started (a ledger cell added to a
/// running one-process bank): registered at the process's own address until the host stops.
/// </summary>
public interface IServiceAnnouncer
{
    Task AnnounceAsync(string service, CancellationToken cancellationToken);
}

internal sealed partial class ServiceAnnouncer(
    IServiceRegistry registry,
    IEnumerable<HostedServiceName> services,
    InternalEndpointAccessor endpoint,
    ReadinessGate readiness,
    HealthServiceImpl grpcHealth,
    IHostApplicationLifetime lifetime,
    BulwarkHostOptions options,
    ILogger<ServiceAnnouncer> logger) : IHostedLifecycleService, IServiceAnnouncer
{
    private readonly List<IAsyncDisposable> _registrations = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<string> _announced = new(StringComparer.Ordinal);
    private bool _started;

    public async Task AnnounceAsync(string service, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_started)
            {
                throw new InvalidOperationException($"Service {service} can be announced only once the host has started and announced its own.");
            }
            if (!_announced.Add(service))
            {
                return;
            }
            var address = FormatAddress(endpoint.Get());
            var instance = ServiceInstance.Create(service, address, options.Version);
            _registrations.Add(await registry.RegisterAsync(instance, cancellationToken));
            grpcHealth.SetStatus(service, HealthCheckResponse.Types.ServingStatus.Serving);
            LogRegistered(service, instance.InstanceId, address);
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        var bound = endpoint.Get();
        var address = FormatAddress(bound);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            foreach (var service in services.Select(s => s.Name).Distinct(StringComparer.Ordinal))
            {
                var instance = ServiceInstance.Create(service, address, options.Version);
                _registrations.Add(await registry.RegisterAsync(instance, cancellationToken));
                _announced.Add(service);
                LogRegistered(service, instance.InstanceId, address);
            }
            _started = true;
        }
        finally
        {
            _gate.Release();
        }
        readiness.MarkReady();
        // grpc.health.v1: "" is the whole process; each hosted service answers under its own name.
        grpcHealth.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving);
        foreach (var service in services)
        {
            grpcHealth.SetStatus(service.Name, HealthCheckResponse.Types.ServingStatus.Serving);
        }
        lifetime.ApplicationStopping.Register(() => readiness.MarkNotReady("stopping"));
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.MarkNotReady("stopping");
        grpcHealth.SetStatus("", HealthCheckResponse.Types.ServingStatus.NotServing);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _started = false;
            foreach (var registration in _registrations)
            {
                await registration.DisposeAsync();
            }
            _registrations.Clear();
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static string FormatAddress(IPEndPoint endPoint)
    {
        // A wildcard bind is announced as loopback: a real address comes from configuration when
        // processes run on different machines.
        var host = endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any)
            ? IPAddress.Loopback
            : endPoint.Address;
        return new IPEndPoint(host, endPoint.Port).ToString();
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Registered service {Service} as {InstanceId} at {Address}")]
    private partial void LogRegistered(string service, string instanceId, string address);
}
