using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Bulwark.EventLog.JetStream;

/// <summary>
/// The cluster-mode event log: one JetStream stream per bank, one subject per partition, the
/// record framed as in the file store (<see cref="RecordFrame"/>: version and CRC-32C) as the
/// message body. Each publish carries a message id (partition:sequence, the broker's dedupe within
/// its window) and the expected last stream sequence of its subject (the record before it), so a
/// second relay, or a republish long after the window, can neither duplicate nor fork a
/// partition: the server refuses a publish that does not follow what it holds, and this class
/// then compares the stored record (same body: a no-op; different: a conflict).
///
/// JetStream has no multi-message transaction: an append is checked whole before anything is
/// published, and records then go one partition prefix at a time. A failure part-way leaves each
/// partition with a prefix of its records, every one whole; repeating the append is safe.
/// </summary>
public sealed partial class JetStreamEventLog : IEventLog
{
    private const string Store = "jetstream";
    private const string SequenceHeader = "Bulwark-Sequence";
    private const int WrongLastSequence = 10071;
    private const int NoMessageFound = 10037;

    private readonly JetStreamEventLogOptions _options;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly ILogger _logger;
    private readonly EventLogMetrics? _metrics;
    private readonly ConcurrentDictionary<int, Tail> _tails = new();
    private readonly SemaphoreSlim _appendGate = new(1, 1);
    private INatsJSStream? _stream;
    private int _disposed;

    /// <summary>A partition's last record as this client last saw it: its sequence and its stream sequence.</summary>
    private readonly record struct Tail(long Sequence, ulong StreamSequence);

    private JetStreamEventLog(JetStreamEventLogOptions options, NatsConnection connection, ILogger logger, EventLogMetrics? metrics)
    {
        _options = options;
        _connection = connection;
        _js = new NatsJSContext(connection);
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Connects and creates (or updates) the bank's stream.</summary>
    /// <exception cref="EventLogException">Unavailable when NATS cannot be reached or does not answer within the request timeout.</exception>
    public static async Task<JetStreamEventLog> OpenAsync(JetStreamEventLogOptions options, ILogger<JetStreamEventLog>? logger = null,
        EventLogMetrics? metrics = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var connection = new NatsConnection(new NatsOpts
        {
            Url = options.Url,
            Name = "bulwark-event-log",
            ConnectTimeout = options.RequestTimeout,
            RequestTimeout = options.RequestTimeout,
            CommandTimeout = options.RequestTimeout,
            // Publishes are never retried by the client behind our back: a retry is the caller's, with the dedupe checks.
            RetryOnInitialConnect = false,
        });
        var log = new JetStreamEventLog(options, connection, (ILogger?)logger ?? NullLogger.Instance, metrics);
        try
        {
            await log.Bounded(async token =>
            {
                await connection.ConnectAsync().ConfigureAwait(false);
                log._stream = await log._js.CreateOrUpdateStreamAsync(new StreamConfig(options.Stream, [options.SubjectWildcard])
                {
                    Storage = StreamConfigStorage.File,
                    NumReplicas = options.Replicas,
                    DuplicateWindow = options.DuplicateWindow,
                    Retention = StreamConfigRetention.Limits,
                    Discard = StreamConfigDiscard.New,
                }, token).ConfigureAwait(false);
                return 0;
            }, "open the stream", cancellationToken).ConfigureAwait(false);
            LogOpened(log._logger, options.Stream, options.Url, options.Replicas);
            return log;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<AppendResult> AppendAsync(IReadOnlyList<EventRecord> records, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        try
        {
            var groups = AppendBatch.ByPartition(records);
            if (groups.Count == 0)
            {
                return new AppendResult(0, 0);
            }
            // One append at a time from this client: the tails it learns stay its own. Another
            // client (a second relay) is kept out by the server's expected-sequence check.
            await _appendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await Bounded(token => AppendGroupsAsync(groups, token), "append", cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _appendGate.Release();
            }
        }
        catch (EventLogException error)
        {
            _metrics?.Failed(Store, error.Error);
            if (error.Error is EventLogError.Unavailable or EventLogError.Conflict)
            {
                // Whether the last publish landed is unknown: learn every tail again next time.
                _tails.Clear();
            }
            throw;
        }
    }

    private async Task<AppendResult> AppendGroupsAsync(List<List<EventRecord>> groups, CancellationToken cancellationToken)
    {
        // Check everything first: gaps, and repeats against what is stored.
        var plans = new (List<EventRecord> Records, int FirstNew, Tail Tail)[groups.Count];
        var duplicates = 0;
        for (var i = 0; i < groups.Count; i++)
        {
            var records = groups[i];
            var tail = await TailAsync(records[0].Partition, cancellationToken).ConfigureAwait(false);
            if (records[0].Sequence > tail.Sequence + 1)
            {
                // Past the tail this client knows: another writer (the cell a moved partition came
                // from) may have published since. Ask the stream before calling it a gap, or a relay
                // waiting for that writer would wait on its own stale tail for ever.
                _tails.TryRemove(records[0].Partition, out _);
                tail = await TailAsync(records[0].Partition, cancellationToken).ConfigureAwait(false);
            }
            AppendBatch.CheckNoGap(records, tail.Sequence);
            var firstNew = 0;
            while (firstNew < records.Count && records[firstNew].Sequence <= tail.Sequence)
            {
                await CheckRepeatAsync(records[firstNew], tail, cancellationToken).ConfigureAwait(false);
                firstNew++;
                duplicates++;
            }
            plans[i] = (records, firstNew, tail);
        }
        // Then publish: partitions side by side, each partition's records one after another.
        var appended = 0;
        var bytes = 0L;
        await Parallel.ForEachAsync(plans, new ParallelOptions { MaxDegreeOfParallelism = EventLogLimits.JetStreamPartitionsInFlightMax, CancellationToken = cancellationToken },
            async (plan, token) =>
            {
                var (published, repeats, size) = await PublishPartitionAsync(plan.Records, plan.FirstNew, plan.Tail, token).ConfigureAwait(false);
                Interlocked.Add(ref appended, published);
                Interlocked.Add(ref duplicates, repeats);
                Interlocked.Add(ref bytes, size);
            }).ConfigureAwait(false);
        _metrics?.Appended(Store, appended, duplicates, bytes);
        return new AppendResult(appended, duplicates);
    }

    private async Task<(int Published, int Repeats, long Bytes)> PublishPartitionAsync(List<EventRecord> records, int firstNew, Tail tail, CancellationToken cancellationToken)
    {
        var published = 0;
        var repeats = 0;
        var bytes = 0L;
        for (var i = firstNew; i < records.Count; i++)
        {
            var record = records[i];
            var body = RecordFrame.Encode(record);
            var headers = new NatsHeaders { [SequenceHeader] = record.Sequence.ToString(CultureInfo.InvariantCulture) };
            var ack = await _js.PublishAsync(_options.Subject(record.Partition), body, opts: new NatsJSPubOpts
            {
                MsgId = MessageId(record.Partition, record.Sequence),
                ExpectedLastSubjectSequence = tail.StreamSequence,
            }, headers: headers, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (ack.Error is null && !ack.Duplicate)
            {
                tail = new Tail(record.Sequence, ack.Seq);
                published++;
                bytes += body.Length;
            }
            else if (ack.Duplicate || ack.Error?.ErrCode == WrongLastSequence)
            {
                // Someone else wrote here since the tail was learnt (another relay, or our own
                // earlier publish that timed out but landed): the same record is a no-op, anything
                // else a conflict.
                _tails.TryRemove(record.Partition, out _);
                tail = await TailAsync(record.Partition, cancellationToken).ConfigureAwait(false);
                if (tail.Sequence < record.Sequence)
                {
                    throw new EventLogException(EventLogError.Conflict,
                        $"Partition {record.Partition} sequence {record.Sequence}: the stream's subject moved under this append (now at sequence {tail.Sequence}); another writer is publishing this partition. Retry the append.",
                        record.Partition, record.Sequence, StreamLocation(tail.StreamSequence));
                }
                await CheckRepeatAsync(record, tail, cancellationToken).ConfigureAwait(false);
                repeats++;
                tail = await FindAsync(record.Partition, record.Sequence, tail, cancellationToken).ConfigureAwait(false) is { } found
                    ? new Tail(record.Sequence, found.StreamSequence)
                    : tail;
            }
            else
            {
                throw new EventLogException(EventLogError.Unavailable,
                    $"Partition {record.Partition} sequence {record.Sequence}: stream {_options.Stream} refused the publish ({ack.Error!.Code} {ack.Error.ErrCode}: {ack.Error.Description}).",
                    record.Partition, record.Sequence);
            }
            _tails[record.Partition] = tail;
        }
        return (published, repeats, bytes);
    }

    /// <summary>A repeat of a stored place: the stored body must be the same.</summary>
    private async Task CheckRepeatAsync(EventRecord record, Tail tail, CancellationToken cancellationToken)
    {
        var stored = await FindAsync(record.Partition, record.Sequence, tail, cancellationToken).ConfigureAwait(false)
            ?? throw new EventLogException(EventLogError.Gap,
                $"Partition {record.Partition} sequence {record.Sequence} is at or below the last stored sequence {tail.Sequence} but is not in stream {_options.Stream}; the stream has a gap.",
                record.Partition, record.Sequence);
        if (!stored.Record.HasSameBody(record))
        {
            throw AppendBatch.Conflict(record, stored.Record, StreamLocation(stored.StreamSequence));
        }
    }

    public async Task<long> GetLastSequenceAsync(int partition, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        try
        {
            return (await Bounded(token => LoadTailAsync(partition, token), "read the last sequence", cancellationToken).ConfigureAwait(false)).Sequence;
        }
        catch (EventLogException error)
        {
            _metrics?.Failed(Store, error.Error);
            throw;
        }
    }

    private async Task<Tail> TailAsync(int partition, CancellationToken cancellationToken)
    {
        if (_tails.TryGetValue(partition, out var tail))
        {
            return tail;
        }
        tail = await LoadTailAsync(partition, cancellationToken).ConfigureAwait(false);
        _tails[partition] = tail;
        return tail;
    }

    /// <summary>The subject's last message, read from the stream (not from this client's memory).</summary>
    private async Task<Tail> LoadTailAsync(int partition, CancellationToken cancellationToken)
    {
        var last = await GetAsync(new StreamMsgGetRequest { LastBySubj = _options.Subject(partition) }, partition, null, cancellationToken).ConfigureAwait(false);
        return last is null ? new Tail(0, 0) : new Tail(last.Value.Record.Sequence, last.Value.StreamSequence);
    }

    public static string MessageId(int partition, long sequence) => string.Create(CultureInfo.InvariantCulture, $"{partition}:{sequence}");

    private string StreamLocation(ulong streamSequence) => string.Create(CultureInfo.InvariantCulture, $"stream {_options.Stream} sequence {streamSequence}");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _connection.DisposeAsync().ConfigureAwait(false);
        _appendGate.Dispose();
    }

    [LoggerMessage(EventId = 1611, Level = LogLevel.Information, Message = "Event log stream {Stream} ready at {Url} ({Replicas} replicas)")]
    private static partial void LogOpened(ILogger logger, string stream, string url, int replicas);
}
