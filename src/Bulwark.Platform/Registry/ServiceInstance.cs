namespace Bulwark.Platform.Registry;

/// <summary>
/// One running instance of a service: where it listens for gRPC (host:port, plaintext HTTP/2 on
/// a private network or loopback) and which version it runs.
/// </summary>
public sealed record ServiceInstance(string Service, string InstanceId, string Address, string Version)
{
    public static ServiceInstance Create(string service, string address, string version) =>
        new(service, $"{service}-{Guid.NewGuid():N}"[..(service.Length + 13)], address, version);
}

/// <summary>
/// The registry's answer for one service at one revision. <see cref="Authoritative"/> says
/// whether the answer is fresh (from a live registry) rather than a last-known-good copy.
/// </summary>
public sealed record ServiceView(string Service, IReadOnlyList<ServiceInstance> Instances, long Revision, bool Authoritative)
{
    /// <summary>
    /// Why the view is what it is, for callers' errors when it has no instances (for example "scaled
    /// to 0 replicas by its deployment record"). Null when there is nothing to add.
    /// </summary>
    public string? Detail { get; init; }

    public static ServiceView Empty(string service) => new(service, [], 0, Authoritative: false);
}
