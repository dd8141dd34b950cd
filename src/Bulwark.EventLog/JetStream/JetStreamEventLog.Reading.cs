using System.Runtime.CompilerServices;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Bulwark.EventLog.JetStream;

/// <summary>Reads, lookups and the bound on every call.</summary>
public sealed partial class JetStreamEventLog
{
    /// <summary>A whole call (many requests) gives up after this many request timeouts, whatever the server does.</summary>
    private const int OperationTimeoutRequests = 4;

    private readonly record struct Stored(EventRecord Record, ulong StreamSequence);

    public async IAsyncEnumerable<EventRecord> ReadAsync(int partition, long fromSequence = 1, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(fromSequence, 1);
        var (tail, start) = await Bounded(async token =>
        {
            var tail = await LoadTailAsync(partition, token).ConfigureAwait(false);
            if (fromSequence > tail.Sequence)
            {
                return (tail, 0UL);
            }
            if (fromSequence == 1)
            {
                // From the start: the consumer's filter finds the first message, and a bad one is
                // reported by the read itself with its place.
                return (tail, 1UL);
            }
            var first = await FindAsync(partition, fromSequence, tail, token).ConfigureAwait(false)
                ?? throw new EventLogException(EventLogError.Gap,
                    $"Partition {partition} sequence {fromSequence} is not in stream {_options.Stream} although its last sequence is {tail.Sequence}; the stream has a gap.",
                    partition, fromSequence);
            return (tail, first.StreamSequence);
        }, "start a read", cancellationToken).ConfigureAwait(false);
        if (start == 0)
        {
            yield break;
        }
        // A plain ephemeral consumer with one filter subject: nats-server 2.9 (Debian's) ignores the
        // filter_subjects list that ordered consumers send, and would deliver the whole stream.
        var consumer = await Bounded(token => _js.CreateOrUpdateConsumerAsync(_options.Stream, new ConsumerConfig
        {
            // Named: the client puts the filter subject in the create subject after the name.
            Name = "read-" + Guid.NewGuid().ToString("N"),
            FilterSubject = _options.Subject(partition),
            DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence,
            OptStartSeq = start,
            AckPolicy = ConsumerConfigAckPolicy.None,
            InactiveThreshold = TimeSpan.FromMinutes(1),
            MemStorage = true,
            NumReplicas = 1,
        }, token).AsTask(), "start a read", cancellationToken).ConfigureAwait(false);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(_options.RequestTimeout);
        await using var messages = consumer.ConsumeAsync<byte[]>(cancellationToken: idle.Token).GetAsyncEnumerator(idle.Token);
        try
        {
            await foreach (var record in ReadMessagesAsync(messages, idle, partition, fromSequence, tail.Sequence, cancellationToken).ConfigureAwait(false))
            {
                yield return record;
            }
        }
        finally
        {
            await DeleteConsumerAsync(consumer.Info.Name).ConfigureAwait(false);
        }
    }

    private async IAsyncEnumerable<EventRecord> ReadMessagesAsync(IAsyncEnumerator<INatsJSMsg<byte[]>> messages, CancellationTokenSource idle,
        int partition, long fromSequence, long lastSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var expected = fromSequence; expected <= lastSequence; expected++)
        {
            INatsJSMsg<byte[]> message;
            try
            {
                // The bound runs only while waiting for the server, not while the caller works on a record.
                idle.CancelAfter(_options.RequestTimeout);
                if (!await messages.MoveNextAsync().ConfigureAwait(false))
                {
                    throw Counted(new EventLogException(EventLogError.Unavailable,
                        $"Partition {partition}: the stream's delivery ended before sequence {expected} (last {lastSequence}); the read is incomplete.", partition, expected));
                }
                message = messages.Current;
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
            }
            catch (OperationCanceledException error) when (!cancellationToken.IsCancellationRequested)
            {
                throw Counted(Unavailable($"read partition {partition} at sequence {expected}", error));
            }
            var streamSequence = message.Metadata?.Sequence.Stream ?? 0;
            var record = Decode(message.Data, partition, expected, streamSequence);
            if (record.Sequence != expected)
            {
                throw Counted(new EventLogException(EventLogError.Gap,
                    $"Partition {partition}: expected sequence {expected}, found {record.Sequence} at {StreamLocation(streamSequence)}; the read stops here.",
                    partition, expected, StreamLocation(streamSequence)));
            }
            yield return record;
        }
    }

    /// <summary>Removes a read's consumer now rather than when its inactivity threshold passes; a failure here only leaves it to that threshold.</summary>
    private async Task DeleteConsumerAsync(string name)
    {
        try
        {
            using var bound = new CancellationTokenSource(_options.RequestTimeout);
            await _js.DeleteConsumerAsync(_options.Stream, name, bound.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is NatsException or OperationCanceledException or TimeoutException)
        {
            // The server removes it after its inactivity threshold.
        }
    }

    /// <summary>
    /// The stored record (<paramref name="partition"/>, <paramref name="sequence"/>), or null. A
    /// subject holds its partition's records in sequence order, so a binary search over stream
    /// sequences with "next message on the subject from here" finds it in about log2(stream
    /// length) gets: the rare path of a repeat, and the start of a read.
    /// </summary>
    private async Task<Stored?> FindAsync(int partition, long sequence, Tail tail, CancellationToken cancellationToken)
    {
        var subject = _options.Subject(partition);
        if (sequence == tail.Sequence)
        {
            return await GetAsync(new StreamMsgGetRequest { Seq = tail.StreamSequence }, partition, sequence, cancellationToken).ConfigureAwait(false);
        }
        ulong low = 1;
        var high = tail.StreamSequence;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            var next = await GetAsync(new StreamMsgGetRequest { Seq = middle, NextBySubj = subject }, partition, null, cancellationToken).ConfigureAwait(false);
            if (next is { } found && found.Record.Sequence < sequence)
            {
                low = found.StreamSequence + 1;
            }
            else
            {
                high = middle;
            }
        }
        var result = await GetAsync(new StreamMsgGetRequest { Seq = low, NextBySubj = subject }, partition, null, cancellationToken).ConfigureAwait(false);
        return result is { } hit && hit.Record.Sequence == sequence ? hit : null;
    }

    /// <summary>One message get, decoded and checked; null when the stream has no such message.</summary>
    private async Task<Stored?> GetAsync(StreamMsgGetRequest request, int partition, long? sequence, CancellationToken cancellationToken)
    {
        StreamMsgGetResponse response;
        try
        {
            response = await _stream!.GetAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException error) when (error.Error.ErrCode == NoMessageFound)
        {
            return null;
        }
        var message = response.Message;
        var record = Decode(message.Data.ToArray(), partition, sequence, message.Seq);
        return new Stored(record, message.Seq);
    }

    private EventRecord Decode(byte[]? body, int partition, long? sequence, ulong streamSequence)
    {
        var location = StreamLocation(streamSequence);
        var what = sequence is { } s ? $"Partition {partition} sequence {s}" : $"Partition {partition}";
        var status = RecordFrame.TryDecode(body ?? [], out var record, out _, out var version);
        if (status != FrameStatus.Ok)
        {
            throw Counted(new EventLogException(RecordFrame.ErrorOf(status),
                $"{what} at {location}: {RecordFrame.Describe(status, version)}; the read stops here.", partition, sequence, location));
        }
        if (record!.Partition != partition)
        {
            throw Counted(new EventLogException(EventLogError.Corrupt,
                $"{what} at {location}: the message holds partition {record.Partition} sequence {record.Sequence} instead; the read stops here.", partition, sequence, location));
        }
        return record;
    }

    /// <summary>
    /// Runs <paramref name="operation"/> bounded by <see cref="OperationTimeoutRequests"/> request
    /// timeouts, turning every way NATS can fail to answer into one <see cref="EventLogError.Unavailable"/>.
    /// </summary>
    private async Task<T> Bounded<T>(Func<CancellationToken, Task<T>> operation, string what, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(_options.RequestTimeout * OperationTimeoutRequests);
        try
        {
            return await operation(bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException error) when (!cancellationToken.IsCancellationRequested)
        {
            throw Unavailable(what, error);
        }
        catch (Exception error) when (error is NatsException or TimeoutException)
        {
            throw Unavailable(what, error);
        }
    }

    private EventLogException Unavailable(string what, Exception error) => new(EventLogError.Unavailable,
        $"NATS at {_options.Url} (stream {_options.Stream}) did not {what} within {_options.RequestTimeout.TotalSeconds:0.#} s per request ({error.GetType().Name}: {error.Message}). Retry later: each record is stored whole or not at all, and repeating an append is safe.",
        innerException: error);

    private EventLogException Counted(EventLogException error)
    {
        _metrics?.Failed(Store, error.Error);
        return error;
    }
}
