using Bulwark.EventLog.Tests.Fixtures;

namespace Bulwark.EventLog.Tests;

/// <summary>
/// The one contract every event log passes (the file store and JetStream alike): sequences
/// from 1 without gaps, repeats that are no-ops only when the body is the same, whole-batch
/// refusal, ordered reads, and everything still there after reopening.
/// </summary>
public abstract class EventLogContractTests : IAsyncLifetime
{
    private IEventLog? _log;

    /// <summary>Opens the store under test (a second call after <see cref="ReopenAsync"/> opens the same store again).</summary>
    protected abstract Task<IEventLog> OpenLogAsync();

    protected IEventLog Log => _log ?? throw new InvalidOperationException("not open");

    public async Task InitializeAsync() => _log = await OpenLogAsync();

    public virtual async Task DisposeAsync()
    {
        if (_log is not null)
        {
            await _log.DisposeAsync();
        }
    }

    /// <summary>Closes the log and opens it again: a restarted relay, with nothing but what the store holds.</summary>
    protected async Task ReopenAsync()
    {
        await Log.DisposeAsync();
        _log = null;
        _log = await OpenLogAsync();
    }

    [Fact]
    public async Task GetLastSequence_EmptyPartition_IsZero()
    {
        Assert.Equal(0, await Log.GetLastSequenceAsync(3));
        Assert.Empty(await Log.ReadAsync(3).ReadAllAsync());
    }

    [Fact]
    public async Task Append_SeveralPartitions_LastSequenceFollowsAndReadsInOrder()
    {
        var result = await Log.AppendAsync([.. Records.Range(1, 1, 3), .. Records.Range(2, 1, 2)]);
        var more = await Log.AppendAsync(Records.Range(1, 4, 5));

        Assert.Equal(new AppendResult(5, 0), result);
        Assert.Equal(new AppendResult(2, 0), more);
        Assert.Equal(5, await Log.GetLastSequenceAsync(1));
        Assert.Equal(2, await Log.GetLastSequenceAsync(2));
        var read = await Log.ReadAsync(1).ReadAllAsync();
        Assert.Equal([1, 2, 3, 4, 5], read.Select(r => r.Sequence));
        Assert.All(read, r => Assert.True(r.HasSameBody(Records.Make(1, r.Sequence))));
    }

    [Fact]
    public async Task Read_FromSequence_StartsThere()
    {
        await Log.AppendAsync(Records.Range(4, 1, 10));

        var read = await Log.ReadAsync(4, 7).ReadAllAsync();

        Assert.Equal([7, 8, 9, 10], read.Select(r => r.Sequence));
        Assert.Empty(await Log.ReadAsync(4, 11).ReadAllAsync());
    }

    [Fact]
    public async Task ReadPartitions_ACellsPartitions_EveryRecordOfEach()
    {
        await Log.AppendAsync([.. Records.Range(1, 1, 2), .. Records.Range(2, 1, 3), .. Records.Range(3, 1, 1)]);

        var read = await Log.ReadPartitionsAsync([3, 1]).ReadAllAsync();

        Assert.Equal(["3:1", "1:1", "1:2"], read.Select(r => $"{r.Partition}:{r.Sequence}"));
    }

    [Fact]
    public async Task Append_FirstRecordNotOne_RefusedAsGapNamingPartitionAndBothSequences()
    {
        var error = await Assert.ThrowsAsync<EventLogException>(() => Log.AppendAsync([Records.Make(9, 2)]));

        Assert.Equal(EventLogError.Gap, error.Error);
        Assert.Equal(9, error.Partition);
        Assert.Contains("Partition 9: sequence 2 does not follow the last stored sequence 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Append_GapInOnePartition_NothingOfTheBatchWritten()
    {
        await Log.AppendAsync(Records.Range(1, 1, 3));

        var error = await Assert.ThrowsAsync<EventLogException>(() => Log.AppendAsync([.. Records.Range(2, 1, 2), Records.Make(1, 5)]));

        Assert.Equal(EventLogError.Gap, error.Error);
        Assert.Contains("sequence 5 does not follow the last stored sequence 3", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await Log.GetLastSequenceAsync(2));
        Assert.Equal(3, await Log.GetLastSequenceAsync(1));
    }

    [Fact]
    public async Task Append_OutOfOrderWithinABatch_RefusedAsInvalid()
    {
        var error = await Assert.ThrowsAsync<EventLogException>(() => Log.AppendAsync([Records.Make(1, 1), Records.Make(1, 3)]));

        Assert.Equal(EventLogError.Invalid, error.Error);
        Assert.Equal(0, await Log.GetLastSequenceAsync(1));
    }

    [Fact]
    public async Task Append_RepeatWithTheSameBody_IsANoOp()
    {
        await Log.AppendAsync(Records.Range(1, 1, 4));

        var again = await Log.AppendAsync(Records.Range(1, 2, 6));

        Assert.Equal(new AppendResult(2, 3), again);
        Assert.Equal([1, 2, 3, 4, 5, 6], (await Log.ReadAsync(1).ReadAllAsync()).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Append_RepeatWithADifferentBody_RefusedAsConflictNamingIt()
    {
        await Log.AppendAsync(Records.Range(1, 1, 4));

        var error = await Assert.ThrowsAsync<EventLogException>(() => Log.AppendAsync([Records.Make(1, 3, body: "-other"), Records.Make(1, 4), Records.Make(1, 5)]));

        Assert.Equal(EventLogError.Conflict, error.Error);
        Assert.Equal(1, error.Partition);
        Assert.Equal(3, error.Sequence);
        Assert.Contains("Partition 1 sequence 3 is already stored with a different body", error.Message, StringComparison.Ordinal);
        Assert.Equal(4, await Log.GetLastSequenceAsync(1));
    }

    [Fact]
    public async Task Append_ConflictInAnotherField_Refused()
    {
        await Log.AppendAsync([Records.Make(1, 1)]);

        var error = await Assert.ThrowsAsync<EventLogException>(() => Log.AppendAsync([Records.Make(1, 1, cell: "b")]));

        Assert.Equal(EventLogError.Conflict, error.Error);
    }

    [Fact]
    public async Task Reopen_RecordsAndLastSequencesKept_RepublishIsANoOpAndConflictStillCaught()
    {
        await Log.AppendAsync([.. Records.Range(1, 1, 5), .. Records.Range(2, 1, 2)]);

        await ReopenAsync();

        Assert.Equal(5, await Log.GetLastSequenceAsync(1));
        Assert.Equal(2, await Log.GetLastSequenceAsync(2));
        Assert.Equal(new AppendResult(1, 5), await Log.AppendAsync(Records.Range(1, 1, 6)));
        var error = await Assert.ThrowsAsync<EventLogException>(() => Log.AppendAsync([Records.Make(2, 2, body: "-forked")]));
        Assert.Equal(EventLogError.Conflict, error.Error);
        Assert.Equal(6, (await Log.ReadAsync(1).ReadAllAsync()).Count);
    }

    [Fact]
    public async Task Append_EmptyAndLargePayloads_ReadBackExactly()
    {
        var large = new byte[300_000];
        new Random(7).NextBytes(large);
        EventRecord[] records = [new(5, 1, "cell-é", 0, -1, ReadOnlyMemory<byte>.Empty), new(5, 2, "", long.MaxValue, int.MaxValue, large)];

        await Log.AppendAsync(records);

        var read = await Log.ReadAsync(5).ReadAllAsync();
        Assert.True(read[0].HasSameBody(records[0]));
        Assert.True(read[1].HasSameBody(records[1]));
    }

    [Fact]
    public async Task Append_ConcurrentCallersOnDifferentPartitions_AllDurableInOrder()
    {
        await Task.WhenAll(Enumerable.Range(0, 8).Select(partition => Task.Run(async () =>
        {
            for (var from = 1; from <= 50; from += 10)
            {
                await Log.AppendAsync(Records.Range(partition, from, from + 9));
            }
        })));

        for (var partition = 0; partition < 8; partition++)
        {
            Assert.Equal(50, await Log.GetLastSequenceAsync(partition));
            Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), (await Log.ReadAsync(partition).ReadAllAsync()).Select(r => r.Sequence));
        }
    }
}
