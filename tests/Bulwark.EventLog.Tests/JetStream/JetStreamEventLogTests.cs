using Bulwark.EventLog.JetStream;
using Bulwark.EventLog.Tests.Fixtures;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Bulwark.EventLog.Tests.JetStream;

/// <summary>What only the broker has: dedupe across clients and beyond its window, a server that stops or hangs, corruption in a message body.</summary>
public sealed class JetStreamEventLogTests : IDisposable
{
    private static readonly TimeSpan ShortTimeout = TimeSpan.FromMilliseconds(500);
    private readonly NatsServer _server = NatsServer.Start();

    private JetStreamEventLogOptions Options(TimeSpan? requestTimeout = null, TimeSpan? duplicateWindow = null) => new()
    {
        Url = _server.Url,
        Bank = "test",
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(5),
        DuplicateWindow = duplicateWindow ?? TimeSpan.FromMinutes(2),
    };

    [Fact]
    public async Task Append_RepublishFromANewClient_IsANoOpAndTheStreamHoldsEachRecordOnce()
    {
        await using (var first = await JetStreamEventLog.OpenAsync(Options()))
        {
            await first.AppendAsync(Records.Range(1, 1, 5));
        }

        await using var second = await JetStreamEventLog.OpenAsync(Options());
        var result = await second.AppendAsync(Records.Range(1, 1, 7));

        Assert.Equal(new AppendResult(2, 5), result);
        Assert.Equal(7L, await StreamMessagesAsync());
    }

    [Fact]
    public async Task Append_TwoWritersBeyondTheBrokerWindow_TheSecondCannotFork()
    {
        await using var first = await JetStreamEventLog.OpenAsync(Options(duplicateWindow: TimeSpan.FromSeconds(1)));
        await using var second = await JetStreamEventLog.OpenAsync(Options(duplicateWindow: TimeSpan.FromSeconds(1)));
        await first.AppendAsync(Records.Range(1, 1, 3));
        await second.AppendAsync(Records.Range(1, 1, 3)); // learns the tail at 3
        await first.AppendAsync([Records.Make(1, 4)]);
        // Past the broker's dedupe window: only the expected-last-subject-sequence check is left.
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        var forked = await Assert.ThrowsAsync<EventLogException>(() => second.AppendAsync([Records.Make(1, 4, body: "-fork")]));
        var same = await second.AppendAsync([Records.Make(1, 4)]);

        Assert.Equal(EventLogError.Conflict, forked.Error);
        Assert.Equal(4, forked.Sequence);
        Assert.Equal(new AppendResult(0, 1), same);
        Assert.Equal(4L, await StreamMessagesAsync());
    }

    /// <summary>
    /// A moved partition: the new owner's client learnt the partition's tail, found its next record
    /// a gap (the old owner had not published yet), and must see the old owner's records once they
    /// are there — not wait on the tail it learnt, for ever. Found on a cluster (ClusterCellMoveTests):
    /// two cells' relays each stuck on a stale tail of one partition.
    /// </summary>
    [Fact]
    public async Task Append_AGapFilledByAnotherWriter_IsAcceptedOnTheNextTry()
    {
        await using var old = await JetStreamEventLog.OpenAsync(Options());
        await using var next = await JetStreamEventLog.OpenAsync(Options());
        await old.AppendAsync(Records.Range(3, 1, 2));

        var gap = await Assert.ThrowsAsync<EventLogException>(() => next.AppendAsync(Records.Range(3, 4, 5, body: "-next")));
        await old.AppendAsync([Records.Make(3, 3)]);
        var result = await next.AppendAsync(Records.Range(3, 4, 5, body: "-next"));

        Assert.Equal(EventLogError.Gap, gap.Error);
        Assert.Equal(new AppendResult(2, 0), result);
        Assert.Equal([1, 2, 3, 4, 5], (await old.ReadAsync(3).ReadAllAsync()).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Append_SameRecordFromAStaleWriterWithinTheWindow_IsANoOp()
    {
        await using var first = await JetStreamEventLog.OpenAsync(Options());
        await using var second = await JetStreamEventLog.OpenAsync(Options());
        await second.AppendAsync(Records.Range(2, 1, 2));
        await first.AppendAsync(Records.Range(2, 1, 3));

        var result = await second.AppendAsync(Records.Range(2, 3, 4));

        Assert.Equal(new AppendResult(1, 1), result);
        Assert.Equal([1, 2, 3, 4], (await first.ReadAsync(2).ReadAllAsync()).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Append_ServerStopped_ClearErrorWithinTheBoundThenRecoversWhenItIsBack()
    {
        await using var log = await RetryAsync(() => JetStreamEventLog.OpenAsync(Options(requestTimeout: ShortTimeout)));
        await RetryAsync(() => log.AppendAsync(Records.Range(1, 1, 2)));

        _server.Stop();
        var error = await Assert.ThrowsAsync<EventLogException>(() => log.AppendAsync([Records.Make(1, 3)]));
        _server.Restart();
        var retried = await RetryAsync(() => log.AppendAsync([Records.Make(1, 3)]));

        Assert.Equal(EventLogError.Unavailable, error.Error);
        Assert.Contains($"NATS at {_server.Url}", error.Message, StringComparison.Ordinal);
        // The client may have sent the failed publish once it reconnected: then the retry finds it
        // stored and is a no-op. Either way the record is there exactly once.
        Assert.Equal(1, retried.Appended + retried.Duplicates);
        Assert.Equal([1, 2, 3], (await RetryAsync(() => log.ReadAsync(1).ReadAllAsync())).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Append_ServerHung_BoundedErrorThenRecoversWhenItAnswers()
    {
        await using var log = await RetryAsync(() => JetStreamEventLog.OpenAsync(Options(requestTimeout: ShortTimeout)));
        await RetryAsync(() => log.AppendAsync(Records.Range(1, 1, 2)));

        _server.Pause();
        EventLogException error;
        try
        {
            error = await Assert.ThrowsAsync<EventLogException>(() => log.AppendAsync([Records.Make(1, 3)]));
        }
        finally
        {
            _server.Resume();
        }
        var retried = await RetryAsync(() => log.AppendAsync([Records.Make(1, 3)]));

        Assert.Equal(EventLogError.Unavailable, error.Error);
        // Whether the hung publish landed or not, the retry leaves the record there exactly once.
        Assert.Equal(1, retried.Appended + retried.Duplicates);
        Assert.Equal([1, 2, 3], (await RetryAsync(() => log.ReadAsync(1).ReadAllAsync())).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Open_PeerThatNeverAnswers_BoundedUnavailableError()
    {
        using var peer = new HungPeer();

        var error = await Assert.ThrowsAsync<EventLogException>(() => JetStreamEventLog.OpenAsync(
            new JetStreamEventLogOptions { Url = $"nats://127.0.0.1:{peer.Port}", Bank = "test", RequestTimeout = ShortTimeout }));

        Assert.Equal(EventLogError.Unavailable, error.Error);
        Assert.Contains($"nats://127.0.0.1:{peer.Port}", error.Message, StringComparison.Ordinal);
        Assert.True(peer.Accepted >= 1);
    }

    [Fact]
    public async Task Open_NothingListening_BoundedUnavailableError()
    {
        var error = await Assert.ThrowsAsync<EventLogException>(() => JetStreamEventLog.OpenAsync(
            new JetStreamEventLogOptions { Url = $"nats://127.0.0.1:{NatsServer.FreePort()}", Bank = "test", RequestTimeout = ShortTimeout }));

        Assert.Equal(EventLogError.Unavailable, error.Error);
    }

    [Fact]
    public async Task Read_MessageWithABadChecksum_StopsNamingPartitionSequenceAndStreamSequence()
    {
        await using var log = await JetStreamEventLog.OpenAsync(Options());
        await log.AppendAsync(Records.Range(3, 1, 1));
        var bad = RecordFrame.Encode(Records.Make(3, 2));
        bad[20] ^= 0x5A;
        await PublishRawAsync(log, 3, bad);
        await PublishRawAsync(log, 3, RecordFrame.Encode(Records.Make(3, 3)));

        var error = await Assert.ThrowsAsync<EventLogException>(() => log.ReadAsync(3).ReadAllAsync());

        Assert.Equal(EventLogError.Corrupt, error.Error);
        Assert.Equal(3, error.Partition);
        Assert.Equal(2, error.Sequence);
        Assert.Equal("stream BULWARK_LEDGER_TEST sequence 2", error.Location);
        Assert.Contains("bad checksum", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_MessageOfAnUnknownVersion_StopsNamingIt()
    {
        await using var log = await JetStreamEventLog.OpenAsync(Options());
        var frame = RecordFrame.Encode(Records.Make(3, 1));
        frame[4] = 3;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(frame.Length - 4), Crc32C.Compute(frame.AsSpan(0, frame.Length - 4)));
        await PublishRawAsync(log, 3, frame);

        var error = await Assert.ThrowsAsync<EventLogException>(() => log.ReadAsync(3).ReadAllAsync());

        Assert.Equal(EventLogError.UnknownVersion, error.Error);
        Assert.Contains("unknown format version 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_GapInTheStream_StopsNamingIt()
    {
        await using var log = await JetStreamEventLog.OpenAsync(Options());
        await log.AppendAsync(Records.Range(3, 1, 1));
        await PublishRawAsync(log, 3, RecordFrame.Encode(Records.Make(3, 3)));

        var read = new List<long>();
        var error = await Assert.ThrowsAsync<EventLogException>(async () =>
        {
            await foreach (var record in log.ReadAsync(3))
            {
                read.Add(record.Sequence);
            }
        });

        Assert.Equal([1], read);
        Assert.Equal(EventLogError.Gap, error.Error);
        Assert.Contains("expected sequence 2, found 3", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A message written around the log (as a bug or a bad disk would leave one).</summary>
    private async Task PublishRawAsync(JetStreamEventLog log, int partition, byte[] body)
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = _server.Url });
        var js = new NatsJSContext(connection);
        var ack = await js.PublishAsync(Options().Subject(partition), body);
        ack.EnsureSuccess();
        _ = log;
    }

    private async Task<long> StreamMessagesAsync()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = _server.Url });
        var stream = await new NatsJSContext(connection).GetStreamAsync(Options().Stream);
        return stream.Info.State.Messages;
    }

    /// <summary>Retries while the server comes back (reconnect takes a moment), bounded.</summary>
    private static async Task<T> RetryAsync<T>(Func<Task<T>> operation)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation();
            }
            catch (EventLogException error) when (error.Error == EventLogError.Unavailable && attempt < 60)
            {
                await Task.Delay(250);
            }
        }
    }

    public void Dispose() => _server.Dispose();
}
