namespace Bulwark.Edge.Staff.Ops;

/// <summary>One sample of the key metrics for the charts. Null: unknown at that time.</summary>
public sealed record OpsPoint(
    DateTimeOffset At,
    double? StandInsPerSecond,
    double? DeclinesPerSecond,
    double? DecisionsPerSecond,
    double? EventLogLagSeconds,
    int InstancesUnreachable,
    int AlertsFiring);

/// <summary>
/// The charts' history: a ring of at most <see cref="Capacity"/> points (the window over the sample
/// interval), in memory, per staff edge — a restarted staff edge starts its charts afresh; the
/// bank's long history is Prometheus's.
/// </summary>
public sealed class OpsSeries
{
    private readonly OpsPoint[] _points;
    private readonly Lock _lock = new();
    private int _next;
    private int _count;

    public OpsSeries(OpsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Capacity = Math.Clamp((int)Math.Ceiling(options.SeriesWindow / options.SampleInterval), 1, OpsLimits.SeriesPointsMax);
        _points = new OpsPoint[Capacity];
    }

    public int Capacity { get; }

    public void Add(OpsPoint point)
    {
        ArgumentNullException.ThrowIfNull(point);
        lock (_lock)
        {
            _points[_next] = point;
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
    }

    /// <summary>The points, oldest first.</summary>
    public IReadOnlyList<OpsPoint> Points()
    {
        lock (_lock)
        {
            var start = (_next - _count + Capacity) % Capacity;
            return [.. Enumerable.Range(0, _count).Select(i => _points[(start + i) % Capacity])];
        }
    }
}
