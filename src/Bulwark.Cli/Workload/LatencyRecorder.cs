using HdrHistogram;

namespace Bulwark.Cli.Workload;

/// <summary>
/// Thread-safe latency and outcome counts for a run, in microseconds, with an interval view for
/// the live status line and a total for the summary.
/// </summary>
public sealed class LatencyRecorder
{
    /// <summary>Latencies above this are recorded as this: a minute is already a failure.</summary>
    public const long LatencyMicrosecondsMax = 60_000_000;

    private readonly Lock _lock = new();
    private readonly LongHistogram _total = new(LatencyMicrosecondsMax, 3);
    private readonly LongHistogram[] _byOperation = [.. Enum.GetValues<Operation>().Select(_ => new LongHistogram(LatencyMicrosecondsMax, 3))];
    private LongHistogram _interval = new(LatencyMicrosecondsMax, 3);
    private long _ok;
    private long _declined;
    private long _errors;
    private long _shed;

    public long Ok => Interlocked.Read(ref _ok);

    public long Declined => Interlocked.Read(ref _declined);

    public long Errors => Interlocked.Read(ref _errors);

    public long Shed => Interlocked.Read(ref _shed);

    public void Record(Operation operation, Outcome outcome, TimeSpan latency)
    {
        var micros = Math.Clamp((long)latency.TotalMicroseconds, 1, LatencyMicrosecondsMax);
        lock (_lock)
        {
            _total.RecordValue(micros);
            _interval.RecordValue(micros);
            _byOperation[(int)operation].RecordValue(micros);
        }
        switch (outcome)
        {
            case Outcome.Ok:
                Interlocked.Increment(ref _ok);
                break;
            case Outcome.Declined:
                Interlocked.Increment(ref _declined);
                break;
            default:
                Interlocked.Increment(ref _errors);
                break;
        }
    }

    public void RecordShed() => Interlocked.Increment(ref _shed);

    /// <summary>Returns the interval's count and percentiles and starts a new interval.</summary>
    public LatencySnapshot TakeInterval()
    {
        LongHistogram interval;
        lock (_lock)
        {
            interval = _interval;
            _interval = new LongHistogram(LatencyMicrosecondsMax, 3);
        }
        return LatencySnapshot.Of(interval);
    }

    public LatencySnapshot Total()
    {
        lock (_lock)
        {
            return LatencySnapshot.Of(_total);
        }
    }

    /// <summary>The whole run's latency for one kind of operation.</summary>
    public LatencySnapshot Total(Operation operation)
    {
        lock (_lock)
        {
            return LatencySnapshot.Of(_byOperation[(int)operation]);
        }
    }
}

/// <summary>What the background workload does; each has its own latency in the summary.</summary>
public enum Operation
{
    Payment,
    PotMove,
    FeedRead,
    Income,
}

public enum Outcome
{
    Ok,
    Declined,
    Error,
}

public sealed record LatencySnapshot(long Count, double P50Milliseconds, double P99Milliseconds, double P999Milliseconds, double MaxMilliseconds)
{
    internal static LatencySnapshot Of(HistogramBase histogram) => histogram.TotalCount == 0
        ? new LatencySnapshot(0, 0, 0, 0, 0)
        : new LatencySnapshot(
            histogram.TotalCount,
            histogram.GetValueAtPercentile(50) / 1000.0,
            histogram.GetValueAtPercentile(99) / 1000.0,
            histogram.GetValueAtPercentile(99.9) / 1000.0,
            histogram.GetMaxValue() / 1000.0);
}
