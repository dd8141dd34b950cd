using Grpc.Core;

namespace Bulwark.Edge.Services;

/// <summary>A gRPC call from the edge failed; carries which service answered so the mapping can log and count it.</summary>
internal sealed class ServiceCallException(string service, RpcException error)
    : Exception($"The {service} service answered {error.StatusCode}: {error.Status.Detail}", error)
{
    public string Service { get; } = service;

    public StatusCode StatusCode { get; } = error.StatusCode;

    public string ServiceMessage { get; } = error.Status.Detail ?? "";
}
