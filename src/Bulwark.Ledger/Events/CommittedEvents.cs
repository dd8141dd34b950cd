using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Events;

/// <summary>
/// The outbox events the writer has just committed, kept in memory for the relay so that it need
/// not read back from the store what the writer wrote a few milliseconds earlier (docs/internals/event-log.md,
/// "The relay"). Only a cache of the outbox: the writer adds a batch's events after its transaction
/// committed, the same objects it wrote, and the relay takes them only as an unbroken run of cell
/// sequences starting right after its watermark. Anything else — a restart, a move's event, more
/// than <see cref="LedgerLimits.RelayCommittedEventsMax"/> events or
/// <see cref="LedgerLimits.RelayCommittedEventBytesMax"/> bytes of payload waiting (the oldest are dropped), a run
/// with a hole — makes the relay read the outbox, which stays the truth. Nothing is held until a
/// relay first asks, so a cell without an event log keeps no events in memory.
/// </summary>
public sealed class CommittedEvents
{
    private readonly object _gate = new();
    private readonly Queue<LedgerOutboxEvent> _events = new();
    private readonly int _eventsMax;
    private readonly long _bytesMax;
    private long _bytes;
    private bool _taking;

    public CommittedEvents(int eventsMax = LedgerLimits.RelayCommittedEventsMax, long bytesMax = LedgerLimits.RelayCommittedEventBytesMax)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(eventsMax);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesMax);
        _eventsMax = eventsMax;
        _bytesMax = bytesMax;
    }

    /// <summary>Events held (for tests and metrics).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _events.Count;
            }
        }
    }

    /// <summary>Adds committed events, in cell-sequence order (the writer's thread, after the commit); none before a relay asked.</summary>
    public void Add(IReadOnlyList<LedgerOutboxEvent> committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        lock (_gate)
        {
            if (!_taking)
            {
                return;
            }
            foreach (var outboxEvent in committed)
            {
                _events.Enqueue(outboxEvent);
                _bytes += outboxEvent.Payload.Length;
            }
            while (_events.Count > _eventsMax || _bytes > _bytesMax)
            {
                // The relay is behind (the log down, or slow): it reads the outbox instead.
                Drop();
            }
        }
    }

    /// <summary>
    /// The events right after <paramref name="afterCellSequence"/>, at most <paramref name="limit"/>,
    /// in order with no hole; null when the first of them is not held (the caller reads the store).
    /// Events at or below <paramref name="afterCellSequence"/> are published and are dropped.
    /// </summary>
    public IReadOnlyList<LedgerOutboxEvent>? TakeAfter(long afterCellSequence, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        lock (_gate)
        {
            _taking = true;
            while (_events.TryPeek(out var first) && first.CellSequence <= afterCellSequence)
            {
                Drop();
            }
            var events = new List<LedgerOutboxEvent>(Math.Min(limit, _events.Count));
            var next = afterCellSequence + 1;
            foreach (var outboxEvent in _events)
            {
                if (events.Count == limit || outboxEvent.CellSequence != next)
                {
                    break;
                }
                events.Add(outboxEvent);
                next++;
            }
            return events.Count == 0 ? null : events;
        }
    }

    private void Drop() => _bytes -= _events.Dequeue().Payload.Length;
}
