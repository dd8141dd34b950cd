using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Platform.Hosting;

/// <summary>What an instance of a service listens on besides its internal gRPC port.</summary>
[Flags]
public enum ServiceListeners
{
    /// <summary>Only the internal gRPC port (and its health and metrics).</summary>
    None = 0,

    /// <summary>A public HTTP/1.1 port (the app API and web UI).</summary>
    Public = 1,

    /// <summary>A TCP port for the card scheme's ISO 8583 link.</summary>
    CardLink = 2,

    /// <summary>An HTTP/1.1 port for staff (the internal edge: staff login, the console, the ops view).</summary>
    Staff = 4,
}

/// <summary>What a service is, without how it is added: what the local cluster and the deploy tools need to know.</summary>
public interface IServiceModule
{
    /// <summary>The service's name in discovery, logs and commands.</summary>
    string Name { get; }

    /// <summary>Owns a store that one process writes when it is embedded (SQLite): 0 or 1 instance there.</summary>
    bool Stateful { get; }

    /// <summary>What its instances listen on besides the internal gRPC port.</summary>
    ServiceListeners Listeners { get; }

    /// <summary>Each instance needs a data directory of its own (a journal that must not be shared).</summary>
    bool DataPerInstance { get; }

    /// <summary>Instances a cluster starts by default.</summary>
    int ReplicasDefault { get; }

    /// <summary>Instances register in discovery.</summary>
    bool Registers { get; }
}

/// <summary>
/// One service, declared once: its name, whether it owns a store that one process writes on
/// embedded storage, what it listens on, whether each instance needs a data directory of its own
/// (a journal that must not be shared), how many instances a cluster starts by default, and how
/// it is added to a host and mapped. <c>bulwark run</c>, <c>bulwark serve</c> and the local
/// cluster all read the same list, so a service cannot be known to one and missing from another.
/// </summary>
/// <typeparam name="TContext">What the host knows when it adds a service (paths, stores, ports).</typeparam>
public sealed record ServiceModule<TContext>(
    string Name,
    bool Stateful,
    ServiceListeners Listeners,
    bool DataPerInstance,
    int ReplicasDefault,
    Action<IServiceCollection, TContext> Add,
    Action<IEndpointRouteBuilder> Map) : IServiceModule
{
    /// <summary>True when instances register in discovery: something calls them over gRPC, or a deploy gates on their health there.</summary>
    public bool Registers { get; init; } = true;
}
