namespace Bulwark.Discovery.Etcd;

/// <summary>
/// How an <see cref="EtcdServiceRegistry"/> reaches etcd and decides about its view. Every limit
/// lives here, named with its unit last. Defaults suit a production-like cluster on a LAN.
/// </summary>
public sealed record EtcdRegistryOptions
{
    /// <summary>Seed client URLs (http://host:port); more are learnt from the member list.</summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    /// <summary>Where this process keeps its last-known-good view (R5). Null: no snapshot.</summary>
    public string? SnapshotPath { get; init; }

    /// <summary>Key prefix of everything Bulwark stores. Default <c>/bulwark/</c>.</summary>
    public string KeyPrefix { get; init; } = "/bulwark/";

    /// <summary>A name for logs and metrics (usually the service this process hosts).</summary>
    public string ProcessName { get; init; } = "bulwark";

    /// <summary>Lease time-to-live of instance records: a dead process disappears after this.</summary>
    public int LeaseTtlSeconds { get; init; } = 5;

    /// <summary>No event or progress notification for this long marks the watch stale (R3).</summary>
    public double StaleAfterSeconds { get; init; } = 3;

    /// <summary>How often the watch asks the member for a progress notification (R3).</summary>
    public double ProgressRequestIntervalSeconds { get; init; } = 1;

    /// <summary>Deadline of one unary etcd call before trying another member.</summary>
    public double CallTimeoutSeconds { get; init; } = 2;

    /// <summary>
    /// How long start-up tries etcd when there is no snapshot to fall back to; then it gives up
    /// and says what it tried (a first start has nothing else to route on).
    /// </summary>
    public double StartTimeoutSeconds { get; init; } = 5;

    /// <summary>
    /// How long start-up waits for etcd when a snapshot exists before it routes from the snapshot
    /// (R5). Every member is asked at once, so one hung member does not use up the budget; under
    /// 2 s, the bound docs/internals/discovery.md promises for a restart while etcd is away.
    /// </summary>
    public double StartFromSnapshotAfterSeconds { get; init; } = 1.5;

    /// <summary>
    /// How long registering an instance may wait for etcd before it is left to the lease loop,
    /// which puts the record as soon as etcd answers: start-up never waits on etcd.
    /// </summary>
    public double RegisterWaitSeconds { get; init; } = 1;

    /// <summary>How often the member list is read to learn added and removed members.</summary>
    public double MemberRefreshIntervalSeconds { get; init; } = 5;

    /// <summary>How often each routed instance is probed with grpc.health.v1 (R4).</summary>
    public double HealthProbeIntervalSeconds { get; init; } = 1;

    /// <summary>Deadline of one health probe.</summary>
    public double HealthProbeTimeoutSeconds { get; init; } = 1;

    /// <summary>Consecutive failed probes after which an instance is ejected from routing.</summary>
    public int EjectAfterFailedProbes { get; init; } = 2;

    /// <summary>
    /// Largest share of a service's instances that health checks may eject at once (R4): a
    /// broken prober or a network blip must not empty a routing table by itself.
    /// </summary>
    public double EjectedShareMax { get; init; } = 0.5;

    /// <summary>Checks the values and throws with the name of the first bad one.</summary>
    public void Validate()
    {
        if (Endpoints is null || Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one etcd endpoint is needed.", nameof(Endpoints));
        }
        if (!KeyPrefix.StartsWith('/') || !KeyPrefix.EndsWith('/'))
        {
            throw new ArgumentException($"KeyPrefix must start and end with '/', got '{KeyPrefix}'.", nameof(KeyPrefix));
        }
        Positive(LeaseTtlSeconds, nameof(LeaseTtlSeconds));
        Positive(StaleAfterSeconds, nameof(StaleAfterSeconds));
        Positive(ProgressRequestIntervalSeconds, nameof(ProgressRequestIntervalSeconds));
        Positive(CallTimeoutSeconds, nameof(CallTimeoutSeconds));
        Positive(StartTimeoutSeconds, nameof(StartTimeoutSeconds));
        Positive(StartFromSnapshotAfterSeconds, nameof(StartFromSnapshotAfterSeconds));
        Positive(RegisterWaitSeconds, nameof(RegisterWaitSeconds));
        Positive(MemberRefreshIntervalSeconds, nameof(MemberRefreshIntervalSeconds));
        Positive(HealthProbeIntervalSeconds, nameof(HealthProbeIntervalSeconds));
        Positive(HealthProbeTimeoutSeconds, nameof(HealthProbeTimeoutSeconds));
        Positive(EjectAfterFailedProbes, nameof(EjectAfterFailedProbes));
        if (EjectedShareMax is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(EjectedShareMax), EjectedShareMax, "A share between 0 and 1.");
        }
    }

    private static void Positive(double value, string name)
    {
        if (!(value > 0))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be greater than zero.");
        }
    }
}
