using System.Diagnostics;
using Bulwark.EventLog;
using Bulwark.Ledger;
using Bulwark.Ledger.Events;
using HdrHistogram;

namespace Bulwark.Bench;

/// <summary>
/// Measures how far the relay is behind the ledger, two ways. Per event: the time its append to
/// the log returned minus the time its batch committed (the writer's "events committed" signal,
/// which comes after the batch's transaction), for events committed in the measured phase. And the
/// relay's own lag in events, sampled every <see cref="SampleIntervalMilliseconds"/>. Wraps the log
/// the relay appends to, so the relay itself is unchanged.
/// </summary>
public sealed class RelayLagMeter : IEventLog
{
    public const int SampleIntervalMilliseconds = 100;

    /// <summary>A lag above a minute is recorded as a minute: the histogram needs a bound, and the goal is under a second.</summary>
    private const long LagHighestMicroseconds = 60_000_000;

    private const long LagEventsHighest = 100_000_000;

    private readonly LedgerEngine _engine;
    private readonly IEventLog _inner;
    private readonly object _gate = new();
    private readonly List<long> _commitSequences = [];
    private readonly List<long> _commitTimestamps = [];
    private readonly LongHistogram _lagMicroseconds = new(LagHighestMicroseconds, 3);
    private readonly LongHistogram _lagEvents = new(LagEventsHighest, 3);
    private long _measuredFromTimestamp = long.MaxValue;
    private long _measuredUntilTimestamp = long.MaxValue;
    private long _eventsPublished;

    public RelayLagMeter(LedgerEngine engine, IEventLog inner)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(inner);
        _engine = engine;
        _inner = inner;
        _engine.EventsCommitted += Committed;
    }

    /// <summary>Events committed in the measured phase and published (their lag recorded).</summary>
    public long EventsMeasured { get; private set; }

    public long EventsPublished => Interlocked.Read(ref _eventsPublished);

    public LongHistogram LagMicroseconds => _lagMicroseconds;

    public LongHistogram LagEvents => _lagEvents;

    /// <summary>Events committed from now on count (until <see cref="StopMeasuring"/>).</summary>
    public void StartMeasuring() => Interlocked.Exchange(ref _measuredFromTimestamp, Stopwatch.GetTimestamp());

    public void StopMeasuring() => Interlocked.Exchange(ref _measuredUntilTimestamp, Stopwatch.GetTimestamp());

    /// <summary>Samples the relay's lag in events at a fixed interval until cancelled (only while measuring).</summary>
    public async Task SampleAsync(LedgerEventRelay relay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(relay);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(SampleIntervalMilliseconds));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = Stopwatch.GetTimestamp();
                if (now >= Interlocked.Read(ref _measuredFromTimestamp) && now < Interlocked.Read(ref _measuredUntilTimestamp))
                {
                    lock (_gate)
                    {
                        _lagEvents.RecordValue(Math.Min(relay.LagEvents, LagEventsHighest));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run ended.
        }
    }

    private void Committed()
    {
        // Called by the writer after each batch that wrote events; its sequence is that batch's last.
        var sequence = _engine.OutboxCellSequence;
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            _commitSequences.Add(sequence);
            _commitTimestamps.Add(now);
        }
    }

    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var result = await _inner.AppendAsync(records, cancellationToken);
        var published = Stopwatch.GetTimestamp();
        var from = Interlocked.Read(ref _measuredFromTimestamp);
        var until = Interlocked.Read(ref _measuredUntilTimestamp);
        Interlocked.Add(ref _eventsPublished, records.Count);
        lock (_gate)
        {
            foreach (var record in records)
            {
                var index = _commitSequences.BinarySearch(record.CellSequence);
                if (index < 0)
                {
                    // Not a batch's last event: its batch is the first one whose last is above it.
                    index = ~index;
                }
                if (index >= _commitTimestamps.Count)
                {
                    // Published before the writer's signal ran (the relay woke on an earlier one): lag about zero.
                    continue;
                }
                var committed = _commitTimestamps[index];
                if (committed < from || committed >= until)
                {
                    continue;
                }
                var lag = (long)Stopwatch.GetElapsedTime(committed, published).TotalMicroseconds;
                _lagMicroseconds.RecordValue(Math.Clamp(lag, 0, LagHighestMicroseconds));
                EventsMeasured++;
            }
        }
        return result;
    }

    public Task<long> GetLastSequenceAsync(int partition, CancellationToken cancellationToken = default) => _inner.GetLastSequenceAsync(partition, cancellationToken);

    public IAsyncEnumerable<EventRecord> ReadAsync(int partition, long fromSequence = 1, CancellationToken cancellationToken = default) => _inner.ReadAsync(partition, fromSequence, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _engine.EventsCommitted -= Committed;
        await _inner.DisposeAsync();
    }
}
