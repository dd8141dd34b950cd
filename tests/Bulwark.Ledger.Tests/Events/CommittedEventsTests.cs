using Bulwark.Ledger.Events;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Tests.Events;

/// <summary>The writer's in-memory hand-off to the relay: only an unbroken run right after the watermark, else the outbox.</summary>
public sealed class CommittedEventsTests
{
    private static LedgerOutboxEvent Event(long cellSequence, int payloadBytes = 10) =>
        new(cellSequence, (int)(cellSequence % 4), cellSequence, 1, new byte[payloadBytes], 1_000 + cellSequence);

    private static LedgerOutboxEvent[] Events(long from, long to) =>
        [.. Enumerable.Range((int)from, (int)(to - from + 1)).Select(sequence => Event(sequence))];

    /// <summary>A buffer a relay has asked once (nothing is held before).</summary>
    private static CommittedEvents Taking(int eventsMax = LedgerLimits.RelayCommittedEventsMax, long bytesMax = LedgerLimits.RelayCommittedEventBytesMax)
    {
        var committed = new CommittedEvents(eventsMax, bytesMax);
        Assert.Null(committed.TakeAfter(0, limit: 1));
        return committed;
    }

    [Fact]
    public void Add_BeforeARelayAsked_HoldsNothing()
    {
        var committed = new CommittedEvents();
        committed.Add(Events(1, 5));

        Assert.Equal(0, committed.Count);
        Assert.Null(committed.TakeAfter(0, limit: 100));
        committed.Add(Events(6, 7));
        Assert.Equal([6L, 7], committed.TakeAfter(5, limit: 100)!.Select(e => e.CellSequence));
    }

    [Fact]
    public void TakeAfter_TheRunAfterTheWatermark_ReturnsItInOrderUpToTheLimit()
    {
        var committed = Taking();
        committed.Add(Events(1, 5));
        committed.Add(Events(6, 10));

        var taken = committed.TakeAfter(3, limit: 4);

        Assert.Equal([4L, 5, 6, 7], taken!.Select(e => e.CellSequence));
    }

    [Fact]
    public void TakeAfter_PublishedEvents_AreDroppedAndNothingNewIsNull()
    {
        var committed = Taking();
        committed.Add(Events(1, 5));

        Assert.Null(committed.TakeAfter(5, limit: 100));
        Assert.Equal(0, committed.Count);
    }

    [Fact]
    public void TakeAfter_TheNextEventNotHeld_IsNullSoTheRelayReadsTheOutbox()
    {
        // A restart, or a move's event written without the hand-off: the buffer starts past the watermark.
        var committed = Taking();
        committed.Add(Events(8, 10));

        Assert.Null(committed.TakeAfter(6, limit: 100));
        Assert.NotNull(committed.TakeAfter(7, limit: 100));
    }

    [Fact]
    public void TakeAfter_AHoleInTheRun_StopsBeforeIt()
    {
        var committed = Taking();
        committed.Add(Events(1, 3));
        committed.Add(Events(5, 6));

        Assert.Equal([1L, 2, 3], committed.TakeAfter(0, limit: 100)!.Select(e => e.CellSequence));
        Assert.Null(committed.TakeAfter(3, limit: 100));
    }

    [Fact]
    public void Add_PastTheEventBound_DropsTheOldestSoTheRelayReadsTheOutboxForThem()
    {
        var committed = Taking(eventsMax: 4);
        committed.Add(Events(1, 6));

        Assert.Equal(4, committed.Count);
        Assert.Null(committed.TakeAfter(0, limit: 100));
        Assert.Equal([3L, 4, 5, 6], committed.TakeAfter(2, limit: 100)!.Select(e => e.CellSequence));
    }

    [Fact]
    public void Add_PastTheByteBound_DropsTheOldest()
    {
        var committed = Taking(bytesMax: 250);
        committed.Add([Event(1, 100), Event(2, 100), Event(3, 100)]);

        Assert.Equal(2, committed.Count);
        Assert.Equal([2L, 3], committed.TakeAfter(1, limit: 100)!.Select(e => e.CellSequence));
    }
}
