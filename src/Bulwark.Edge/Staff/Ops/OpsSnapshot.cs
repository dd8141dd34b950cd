namespace Bulwark.Edge.Staff.Ops;

/// <summary>One instance as the ops view saw it: its registration record, its health answer, and what its metrics say.</summary>
public sealed record OpsInstance(
    string Service,
    string InstanceId,
    string Address,
    string Version,
    string Health,
    string? Why,
    double? DiscoveryStaleSeconds,
    string DiscoveryFreshness,
    string ConfigStatus);

/// <summary>A service: the staff edge's discovery view of it (authoritative or last known good) and its instances.</summary>
public sealed record OpsService(string Name, bool ViewAuthoritative, string? Detail, IReadOnlyList<OpsInstance> Instances);

/// <summary>A ledger cell of the placement map: its partitions and how many of its instances serve.</summary>
public sealed record OpsCell(string Name, string Service, int Partitions, int Instances, int InstancesServing);

/// <summary>The placement map as this staff edge reads it, or why it cannot.</summary>
public sealed record OpsPlacement(string Status, string? Why, long? Version, int? PartitionCount, string? ClusterId, IReadOnlyList<OpsCell> Cells);

/// <summary>
/// One cell's event-log relay: its lag (the highest any instance reports for it), and the partitions
/// it refuses because its store is behind the log for them (R9; null when no instance reports it).
/// </summary>
public sealed record OpsEventLogLag(string Cell, double LagSeconds, double? LagEvents, double? PartitionsBehindLog = null);

/// <summary>One cell's coherence checks so far, by result, as the checkers report them (counters since their start).</summary>
public sealed record OpsCoherenceCell(string Cell, IReadOnlyDictionary<string, double> ChecksByResult);

/// <summary>The card processors' counters read from one process (summed over its labels).</summary>
public sealed record OpsCardCounters(double Decisions, double Declines, double StandIns);

/// <summary>This staff edge's own configuration client: where its allowed ranges and the banner come from (R14).</summary>
public sealed record OpsConfigClient(bool Fresh, bool StartedFromCache, IReadOnlyList<string> UntrustedKeys, long MalformedValues, long UntrustedNotFound, long RevisionWentBack);

/// <summary>
/// One round of probes: every listed service's instances, the placement map, and the bank-wide
/// metrics read from every distinct process (a process registered under several names — the
/// one-process bank — is read once, so nothing is counted twice).
/// </summary>
public sealed record OpsSnapshot(
    DateTimeOffset At,
    double CollectSeconds,
    string? DiscoveryWhy,
    IReadOnlyList<OpsService> Services,
    OpsPlacement Placement,
    IReadOnlyList<OpsEventLogLag> EventLogLag,
    string EventLogLagStatus,
    IReadOnlyList<OpsCoherenceCell> Coherence,
    string CoherenceStatus,
    IReadOnlyDictionary<string, OpsCardCounters> CardsByAddress,
    IReadOnlyDictionary<string, double> CoherenceMissingByAddress,
    OpsConfigClient? StaffEdgeConfig)
{
    public int InstancesUnreachable => Services.Sum(service => service.Instances.Count(instance => instance.Health == InstanceProbeResult.Unreachable));

    public double? EventLogLagSecondsMax => EventLogLag.Count == 0 ? null : EventLogLag.Max(lag => lag.LagSeconds);

    /// <summary>The cells that refuse partitions because their stores are behind the event log.</summary>
    public IEnumerable<OpsEventLogLag> CellsBehindLog => EventLogLag.Where(lag => lag.PartitionsBehindLog > 0);
}
