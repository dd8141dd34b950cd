using Bulwark.Platform.Registry;

namespace Bulwark.Discovery.Etcd.Discovery;

/// <summary>
/// Rules R2 and R4 as one pure function: from what etcd says about a service now, whether that is
/// fresh, and what was published before, decide the view callers route on.
/// </summary>
public static class DiscoveryRules
{
    /// <summary>
    /// Decides the routable view of one service.
    /// <list type="bullet">
    /// <item>Stale discovery never removes an endpoint (R4): the previous view stays, marked not authoritative.</item>
    /// <item>Fresh discovery with instances is the view: it adds and removes endpoints (R4).</item>
    /// <item>Fresh and empty is authoritative only when the deployment says 0 replicas (R2): then
    /// callers fail fast with a message saying so.</item>
    /// <item>Fresh and empty without such a deployment record keeps the last non-empty view
    /// (fail static): an empty answer is more likely a fault than the truth.</item>
    /// </list>
    /// </summary>
    public static ServiceView Decide(
        string service,
        IReadOnlyList<ServiceInstance> parsed,
        DeploymentRecord? deployment,
        bool fresh,
        long revision,
        ServiceView? previous)
    {
        if (!fresh)
        {
            return previous is null
                ? new ServiceView(service, [], revision, Authoritative: false) { Detail = NoViewDetail(service) }
                : previous with { Authoritative = false };
        }
        if (parsed.Count > 0)
        {
            return new ServiceView(service, parsed, revision, Authoritative: true);
        }
        if (deployment?.Replicas == 0)
        {
            return new ServiceView(service, [], revision, Authoritative: true)
            {
                Detail = $"Service '{service}' is scaled to 0 replicas (its deployment record says so): nothing serves it on purpose.",
            };
        }
        if (previous is { Instances.Count: > 0 })
        {
            return previous with { Revision = revision, Authoritative = false };
        }
        return new ServiceView(service, [], revision, Authoritative: false) { Detail = NoViewDetail(service) };
    }

    private static string NoViewDetail(string service) =>
        $"No instances of service '{service}' are known: none registered, and no deployment record scales it to 0.";
}
