namespace Bulwark.Cli.Operator;

/// <summary>How operator commands wait for a cluster's etcd.</summary>
internal static class OperatorEtcd
{
    /// <summary>
    /// How long an operator command (customers, cells, scale, deploy ...) waits for etcd to answer
    /// before it says etcd is not answering. Longer than a service's start (which falls back to its
    /// snapshot) because a person is waiting for a verdict, not for a fallback: a busy machine or a
    /// member mid-election can take seconds (3 s made commands on a loaded test machine fail).
    /// </summary>
    public const double TimeoutSeconds = 10;
}
