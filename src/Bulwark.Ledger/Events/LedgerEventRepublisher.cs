using System.Data.Common;
using System.Globalization;
using Bulwark.EventLog;
using Bulwark.Ledger.Storage;
using Bulwark.Storage.Postgres;
using Bulwark.Storage.Sqlite;
using Npgsql;

namespace Bulwark.Ledger.Events;

/// <summary>
/// What one partition's event log lacks that its cell's store committed: the log's last sequence,
/// the store's (its outbox's newest event of the partition), whether the relay recorded those
/// events as published (their cell sequences at or below the store's watermark: the relay will
/// never send them again by itself), and the events the outbox still holds of the gap — all of
/// them, in order, or none when pruning removed the first (<see cref="OutboxFirst"/> says where
/// the outbox's run begins).
/// </summary>
public sealed record MissingEvents(int Partition, long LogLast, long StoreLast, bool RecordedAsPublished, IReadOnlyList<LedgerOutboxEvent> Events, long OutboxFirst)
{
    /// <summary>True when the outbox holds every missing event, so they can be republished byte for byte.</summary>
    public bool Republishable => Events.Count > 0 && Events.Count == StoreLast - LogLast;
}

/// <summary>What a republish appended: new records, and records the log held already with the same body (no-ops).</summary>
public readonly record struct RepublishResult(int Appended, int Duplicates);

/// <summary>
/// Puts back into the event log events a cell's store committed and the log lacks (reconcile
/// --repair, docs/runbooks/reconcile.md). Only from the store's outbox: the exact bytes the writer
/// committed in the batch's transaction and the relay would have sent, under the same partition and
/// sequence — never an event rebuilt from rows. That makes it provably safe: the log takes a record
/// at a place it already holds as a no-op when the body is the same and refuses it as a
/// <see cref="EventLogError.Conflict"/> when not, and refuses one past its next sequence as a
/// <see cref="EventLogError.Gap"/> (the file store by its index, JetStream by the expected last
/// subject sequence), so a republish racing the relay, repeated, or of an event that is in fact
/// present can neither duplicate nor fork a partition. Pruning keeps only each partition's newest
/// event once published, so a loss deeper than that is not republishable from here: it is reported.
/// </summary>
public static class LedgerEventRepublisher
{
    /// <summary>
    /// The partitions of <paramref name="partitions"/> whose log ends before the store's outbox
    /// does, with what the outbox still holds of the gap. Reads the store read-only, without the
    /// writer's lock, so a running cell can be read.
    /// </summary>
    public static async Task<IReadOnlyList<MissingEvents>> FindMissingAsync(IEventLog log, LedgerCellSource store, IReadOnlyCollection<int> partitions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(partitions);
        var logLast = new Dictionary<int, long>();
        foreach (var partition in partitions.Distinct())
        {
            logLast[partition] = await log.GetLastSequenceAsync(partition, cancellationToken);
        }
        // The log is read first: an event the relay publishes after this read is found at the
        // store's side too, and republishing it later is a no-op.
        var (watermark, outbox) = await Task.Run(() => ReadOutbox(store, logLast), cancellationToken);
        var missing = new List<MissingEvents>();
        foreach (var (partition, last) in logLast.OrderBy(pair => pair.Key))
        {
            if (!outbox.TryGetValue(partition, out var events) || events.Count == 0 || events[^1].PartitionSequence <= last)
            {
                continue;
            }
            if (await log.GetLastSequenceAsync(partition, cancellationToken) > last)
            {
                // The log moved on since it was read: the relay is publishing the partition (an
                // event it published after the first read may be under the watermark read since).
                continue;
            }
            var storeLast = events[^1].PartitionSequence;
            var complete = events[0].PartitionSequence == last + 1 && IsConsecutive(events);
            missing.Add(new MissingEvents(partition, last, storeLast, events[0].CellSequence <= watermark, complete ? events : [], events[0].PartitionSequence));
        }
        return missing;
    }

    /// <summary>
    /// Appends a partition's missing events as the cell's relay would (same partition, sequence,
    /// cell, cell sequence, kind and payload), in appends the log takes whole. Throws
    /// <see cref="EventLogException"/> as the log does: a <see cref="EventLogError.Conflict"/> means
    /// the log holds a different event at that place (a person decides), a
    /// <see cref="EventLogError.Gap"/> that the log lost more meanwhile.
    /// </summary>
    public static async Task<RepublishResult> RepublishAsync(IEventLog log, string cell, MissingEvents missing, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(missing);
        if (!missing.Republishable)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"Partition {missing.Partition}'s events {missing.LogLast + 1} to {missing.StoreLast} are not all in the outbox: nothing to republish from."));
        }
        var appended = 0;
        var duplicates = 0;
        foreach (var chunk in missing.Events.Chunk(LedgerLimits.RelayBatchEventsMax))
        {
            var records = chunk.Select(outboxEvent => new EventRecord(outboxEvent.Partition, outboxEvent.PartitionSequence, cell, outboxEvent.CellSequence, outboxEvent.Kind, outboxEvent.Payload)).ToArray();
            var result = await log.AppendAsync(records, cancellationToken);
            appended += result.Appended;
            duplicates += result.Duplicates;
        }
        return new RepublishResult(appended, duplicates);
    }

    private static bool IsConsecutive(IReadOnlyList<LedgerOutboxEvent> events)
    {
        for (var i = 1; i < events.Count; i++)
        {
            if (events[i].PartitionSequence != events[i - 1].PartitionSequence + 1)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The store's recorded watermark and, per partition, its outbox events above the log's last sequence (at most <see cref="LedgerReplayLimits.RepublishEventsMax"/> each), in order.</summary>
    private static (long Watermark, Dictionary<int, List<LedgerOutboxEvent>> Events) ReadOutbox(LedgerCellSource store, IReadOnlyDictionary<int, long> after)
    {
        if (store.SqlitePath is { } path)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"There is no ledger database at {path}.", path);
            }
            using var connection = new SqliteDatabase(path).OpenReadOnly();
            using var snapshot = connection.BeginTransaction(deferred: true);
            return ReadOutbox(connection, snapshot, "", after);
        }
        var connectionString = store.PostgresConnectionString ?? throw new ArgumentException("A store source names a SQLite path or a PostgreSQL connection string.", nameof(store));
        using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false });
        using var postgres = PostgresConnections.Open(dataSource);
        using var repeatable = postgres.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        return ReadOutbox(postgres, repeatable, "ledger.", after);
    }

    private static (long, Dictionary<int, List<LedgerOutboxEvent>>) ReadOutbox(DbConnection connection, DbTransaction snapshot, string schema, IReadOnlyDictionary<int, long> after)
    {
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = $"SELECT coalesce((SELECT value FROM {schema}ledger_meta WHERE key = 'outbox_watermark'), 0)";
        var watermark = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        var events = new Dictionary<int, List<LedgerOutboxEvent>>();
        foreach (var (partition, last) in after)
        {
            // Literals, not parameters: two integers, and one text for both drivers' placeholder styles.
            command.CommandText = string.Create(CultureInfo.InvariantCulture,
                $"SELECT cell_sequence, partition, partition_sequence, kind, committed_at, payload FROM {schema}ledger_outbox WHERE partition = {partition} AND partition_sequence > {last} ORDER BY partition_sequence LIMIT {LedgerReplayLimits.RepublishEventsMax}");
            var list = new List<LedgerOutboxEvent>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    list.Add(new LedgerOutboxEvent(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture),
                        Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture), Convert.ToInt32(reader.GetValue(3), CultureInfo.InvariantCulture),
                        (byte[])reader.GetValue(5), Convert.ToInt64(reader.GetValue(4), CultureInfo.InvariantCulture)));
                }
            }
            events[partition] = list;
        }
        return (watermark, events);
    }
}
