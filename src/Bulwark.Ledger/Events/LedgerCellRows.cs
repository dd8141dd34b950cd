using System.Data.Common;
using System.Globalization;
using Bulwark.EventLog;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Storage.Postgres;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Bulwark.Ledger.Events;

/// <summary>
/// One partition's rows as one source holds them (a store, or the event log's history applied in
/// memory): accounts with balances, transfer rows by id and leg, owed credit legs by id.
/// </summary>
public sealed class PartitionRows(int partition)
{
    public int Partition { get; } = partition;

    public Dictionary<UInt128, LedgerAccount> Accounts { get; } = [];

    public Dictionary<(UInt128 Id, TransferLeg Leg), LedgerTransfer> Transfers { get; } = [];

    public Dictionary<UInt128, OwedCreditLeg> OwedLegs { get; } = [];

    /// <summary>Events read (the event log's only; 0 for a store).</summary>
    public long Events { get; set; }

    /// <summary>
    /// A store's: the partition's last event number in its outbox, read in the same snapshot as the
    /// rows (0 when it has none): the log holds exactly these rows once its last sequence is this.
    /// </summary>
    public long OutboxSequence { get; set; }

    /// <summary>Transfer rows the source holds more than once (the event log's: a row written by two events).</summary>
    public List<(UInt128 Id, TransferLeg Leg, long Sequence)> Repeated { get; } = [];
}

/// <summary>
/// The rows of a ledger cell's partitions as one source holds them, for <see cref="LedgerLogComparison"/>:
/// read from the event log (<see cref="ReadLogAsync"/>) or from a store, SQLite or PostgreSQL, in one
/// read-only snapshot without taking the writer's lock (<see cref="ReadStore"/>), so a live cell can be read.
/// Memory: every row of the partitions read, about 200 bytes a transfer row.
/// </summary>
public sealed class LedgerCellRows
{
    private LedgerCellRows(string source, IReadOnlyDictionary<int, PartitionRows> partitions)
    {
        Source = source;
        Partitions = partitions;
    }

    /// <summary>What was read, for reports: "event log", a store's path or PostgreSQL address.</summary>
    public string Source { get; }

    public IReadOnlyDictionary<int, PartitionRows> Partitions { get; }

    /// <summary>The cell a store says it is (null for the event log, or a store of no cell).</summary>
    public string? Cell { get; private init; }

    /// <summary>The partitions a store owns, with their epochs (empty for the event log).</summary>
    public IReadOnlyDictionary<int, long> Owned { get; private init; } = new Dictionary<int, long>();

    /// <summary>
    /// The event log's history of <paramref name="partitions"/> applied in memory, each in sequence
    /// order, checked as a replay checks it (<see cref="LedgerEventDecoder"/>): a bad checksum, an
    /// unknown version, a gap or a record that does not belong stops the read with an
    /// <see cref="EventLogException"/> or <see cref="LedgerReplayException"/> naming it.
    /// </summary>
    public static async Task<LedgerCellRows> ReadLogAsync(IEventLog log, IReadOnlyCollection<int> partitions, int partitionCount, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(partitions);
        var result = new Dictionary<int, PartitionRows>();
        foreach (var partition in partitions.Distinct().Order())
        {
            var rows = new PartitionRows(partition);
            string? previousCell = null;
            await foreach (var record in log.ReadAsync(partition, 1, cancellationToken).ConfigureAwait(false))
            {
                var change = LedgerEventDecoder.Decode(record, partitionCount, previousCell);
                previousCell = record.Cell;
                Apply(rows, record, change);
            }
            result[partition] = rows;
        }
        return new LedgerCellRows("event log", result);
    }

    private static void Apply(PartitionRows rows, EventRecord record, PartitionChange change)
    {
        rows.Events++;
        foreach (var account in change.AccountsCreated)
        {
            rows.Accounts[account.Id.ToUInt128()] = LedgerEventDecoder.ToRow(account);
        }
        foreach (var transfer in change.TransfersWritten)
        {
            var row = LedgerEventDecoder.ToRow(transfer);
            if (!rows.Transfers.TryAdd((row.Id, row.Leg), row))
            {
                rows.Repeated.Add((row.Id, row.Leg, record.Sequence));
            }
        }
        foreach (var hold in change.HoldsChanged)
        {
            var row = LedgerEventDecoder.ToRow(hold);
            rows.Transfers[(row.Id, row.Leg)] = row;
        }
        foreach (var leg in change.OwedLegsCreated)
        {
            var row = LedgerEventDecoder.ToRow(leg);
            rows.OwedLegs[row.Id] = new OwedCreditLeg(rows.Partition, row, OwedLegState.Owed);
        }
        foreach (var settled in change.OwedLegsSettled)
        {
            var id = settled.Id.ToUInt128();
            if (rows.OwedLegs.TryGetValue(id, out var owed) && owed.State == OwedLegState.Owed)
            {
                rows.OwedLegs[id] = owed with { State = LedgerEventDecoder.ToState(settled.Outcome) };
            }
        }
        foreach (var balances in change.Balances)
        {
            var id = balances.Id.ToUInt128();
            if (!rows.Accounts.TryGetValue(id, out var account))
            {
                throw LedgerEventDecoder.Refused(record, string.Create(CultureInfo.InvariantCulture,
                    $"sets the balances of account {id:x32}, which no earlier event of partition {rows.Partition} created"));
            }
            rows.Accounts[id] = LedgerEventDecoder.WithBalances(account, balances);
        }
    }

    /// <summary>
    /// A store's rows of <paramref name="partitions"/> (whether it owns them or not: the comparison
    /// says which it owns), read in one snapshot. Throws <see cref="FileNotFoundException"/> for a
    /// SQLite file that is not there, and the driver's exception when the store cannot be read.
    /// </summary>
    public static LedgerCellRows ReadStore(LedgerCellSource source, IReadOnlyCollection<int> partitions)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(partitions);
        if (source.SqlitePath is { } path)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"There is no ledger database at {path}.", path);
            }
            using var connection = new SqliteDatabase(path).OpenReadOnly();
            using var snapshot = connection.BeginTransaction(deferred: true);
            return Read(path, connection, snapshot, partitions, new RowReaders(
                reader => SqliteRows.ReadAccount((SqliteDataReader)reader),
                reader => SqliteRows.ReadTransfer((SqliteDataReader)reader),
                reader => SqliteRows.ReadOwedLeg((SqliteDataReader)reader)));
        }
        var connectionString = source.PostgresConnectionString ?? throw new ArgumentException("A store source names a SQLite path or a PostgreSQL connection string.", nameof(source));
        using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, SearchPath = "ledger" });
        using var postgres = PostgresConnections.Open(dataSource);
        using var repeatable = postgres.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        return Read(PostgresConnections.Describe(connectionString), postgres, repeatable, partitions, new RowReaders(
            reader => PostgresLedgerStore.ReadAccount((NpgsqlDataReader)reader),
            reader => PostgresLedgerStore.ReadTransfer((NpgsqlDataReader)reader),
            reader => PostgresLedgerStore.ReadOwedLeg((NpgsqlDataReader)reader)));
    }

    private sealed record RowReaders(Func<DbDataReader, LedgerAccount> Account, Func<DbDataReader, LedgerTransfer> Transfer, Func<DbDataReader, OwedCreditLeg> OwedLeg);

    private static LedgerCellRows Read(string source, DbConnection connection, DbTransaction snapshot, IReadOnlyCollection<int> partitions, RowReaders readers)
    {
        var result = partitions.Distinct().ToDictionary(partition => partition, partition => new PartitionRows(partition));
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        // The partition is read last, after the columns the row readers map by position.
        command.CommandText = $"SELECT {SqliteLedgerSchema.AccountColumns}, partition FROM accounts";
        ForEach(command, 10, result, (rows, reader) =>
        {
            var account = readers.Account(reader);
            rows.Accounts[account.Id] = account;
        });
        command.CommandText = $"SELECT {SqliteLedgerSchema.TransferColumns}, partition FROM transfers";
        ForEach(command, 16, result, (rows, reader) =>
        {
            var row = readers.Transfer(reader);
            if (!rows.Transfers.TryAdd((row.Id, row.Leg), row))
            {
                rows.Repeated.Add((row.Id, row.Leg, row.Sequence));
            }
        });
        command.CommandText = $"SELECT {SqliteLedgerSchema.OwedLegColumns}, partition FROM credit_legs_owed";
        ForEach(command, 10, result, (rows, reader) =>
        {
            var owed = readers.OwedLeg(reader);
            rows.OwedLegs[owed.Leg.Id] = owed;
        });
        ReadOutboxSequences(command, result);
        var (cell, owned) = ReadOwnership(command);
        return new LedgerCellRows(source, result) { Cell = cell, Owned = owned };
    }

    private static void ForEach(DbCommand command, int partitionColumn, Dictionary<int, PartitionRows> partitions, Action<PartitionRows, DbDataReader> add)
    {
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (partitions.TryGetValue(Convert.ToInt32(reader.GetValue(partitionColumn), CultureInfo.InvariantCulture), out var rows))
            {
                add(rows, reader);
            }
        }
    }

    /// <summary>
    /// The last event number the SQLite store at <paramref name="path"/> gave each partition (its
    /// outbox's newest row, which pruning keeps), read-only; partitions it never numbered are absent.
    /// </summary>
    public static Dictionary<int, long> ReadPartitionSequences(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"There is no ledger database at {path}.", path);
        }
        using var connection = new SqliteDatabase(path).OpenReadOnly();
        using var snapshot = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        return ReadOutboxSequences(command);
    }

    /// <summary>
    /// The last event number the PostgreSQL ledger at <paramref name="connectionString"/> gave each
    /// partition, read in a snapshot it exports (<c>pg_export_snapshot()</c>) and holds while
    /// <paramref name="whileHeld"/> runs with the snapshot's name — <c>pg_dump --snapshot</c> there
    /// dumps exactly what was read.
    /// </summary>
    public static Dictionary<int, long> ReadPartitionSequences(string connectionString, Action<string> whileHeld)
    {
        ArgumentNullException.ThrowIfNull(whileHeld);
        using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, SearchPath = "ledger" });
        using var postgres = PostgresConnections.Open(dataSource);
        using var repeatable = postgres.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        using var command = postgres.CreateCommand();
        command.Transaction = repeatable;
        // First statement of the transaction: the snapshot exported is the one the reads below see.
        command.CommandText = "SELECT pg_export_snapshot()";
        var snapshot = (string)command.ExecuteScalar()!;
        var sequences = ReadOutboxSequences(command);
        whileHeld(snapshot);
        repeatable.Commit();
        return sequences;
    }

    private static void ReadOutboxSequences(DbCommand command, Dictionary<int, PartitionRows> partitions)
    {
        foreach (var (partition, sequence) in ReadOutboxSequences(command))
        {
            if (partitions.TryGetValue(partition, out var rows))
            {
                rows.OutboxSequence = sequence;
            }
        }
    }

    private static Dictionary<int, long> ReadOutboxSequences(DbCommand command)
    {
        var sequences = new Dictionary<int, long>();
        command.CommandText = command.Connection is SqliteConnection
            ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_outbox'"
            : "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ledger' AND table_name = 'ledger_outbox'";
        if (Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) == 0)
        {
            return sequences;
        }
        // Pruning keeps the newest row of every partition the store numbered, so the maximum is there.
        command.CommandText = "SELECT partition, max(partition_sequence) FROM ledger_outbox GROUP BY partition";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            sequences[Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture)] = Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
        }
        return sequences;
    }

    private static (string? Cell, Dictionary<int, long> Owned) ReadOwnership(DbCommand command)
    {
        var owned = new Dictionary<int, long>();
        command.CommandText = command.Connection is SqliteConnection
            ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'cell_identity'"
            : "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ledger' AND table_name = 'cell_identity'";
        if (Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) == 0)
        {
            return (null, owned);
        }
        command.CommandText = "SELECT value FROM cell_identity WHERE key = 'cell'";
        var cell = command.ExecuteScalar() as string;
        command.CommandText = "SELECT partition, epoch FROM partition_owners WHERE state = 1";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            owned[Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture)] = Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
        }
        return (cell, owned);
    }
}
