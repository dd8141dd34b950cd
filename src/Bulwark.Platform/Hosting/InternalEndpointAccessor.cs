using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Bulwark.Platform.Hosting;

/// <summary>
/// Holds Kestrel's listen options for the internal gRPC endpoint; after start they carry the
/// port actually bound (the configured one may be 0).
/// </summary>
public sealed class InternalEndpointAccessor
{
    private ListenOptions? _listenOptions;
    private IPEndPoint? _publicConfigured;
    private ListenOptions? _publicListenOptions;
    private IPEndPoint? _staffConfigured;
    private ListenOptions? _staffListenOptions;

    private IPEndPoint? _operatorConfigured;
    private ListenOptions? _operatorListenOptions;

    internal void Set(ListenOptions listenOptions) => _listenOptions = listenOptions;

    internal void SetPublic(IPEndPoint? endPoint) => _publicConfigured = endPoint;

    internal void SetPublic(ListenOptions listenOptions) => _publicListenOptions = listenOptions;

    internal void SetStaff(IPEndPoint? endPoint) => _staffConfigured = endPoint;

    internal void SetStaff(ListenOptions listenOptions) => _staffListenOptions = listenOptions;

    internal void SetOperator(IPEndPoint? endPoint) => _operatorConfigured = endPoint;

    internal void SetOperator(ListenOptions listenOptions) => _operatorListenOptions = listenOptions;

    /// <summary>The bound operator (HTTP/2) endpoint, or null when the host has none. Valid once the server has started.</summary>
    public IPEndPoint? GetOperator() => _operatorListenOptions?.IPEndPoint;

    /// <summary>Whether a request arrived on the operator endpoint (by the local port it came in on).</summary>
    public bool IsOperatorPort(int localPort) => _operatorListenOptions?.IPEndPoint is { } endPoint && endPoint.Port == localPort;

    /// <summary>The bound internal endpoint. Valid once the server has started.</summary>
    public IPEndPoint Get() =>
        _listenOptions?.IPEndPoint ?? throw new InvalidOperationException("The internal endpoint is not configured.");

    /// <summary>The bound public (HTTP/1.1) endpoint, or null when the host has none. Valid once the server has started.</summary>
    public IPEndPoint? GetPublic() => _publicListenOptions?.IPEndPoint;

    /// <summary>The bound staff (HTTP/1.1) endpoint, or null when the host has none. Valid once the server has started.</summary>
    public IPEndPoint? GetStaff() => _staffListenOptions?.IPEndPoint;

    /// <summary>Whether a request arrived on the staff endpoint (by the local port it came in on).</summary>
    public bool IsStaffPort(int localPort) => _staffListenOptions?.IPEndPoint is { } endPoint && endPoint.Port == localPort;

    internal bool IsInternalPort(int localPort) =>
        _listenOptions?.IPEndPoint is { } endPoint && endPoint.Port == localPort && _publicConfigured?.Port != localPort && _staffConfigured?.Port != localPort
        && _operatorConfigured?.Port != localPort;
}
