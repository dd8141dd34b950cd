using System.Data;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Bulwark.Storage.Postgres;
using Bulwark.Storage.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Bulwark.Ledger.Storage;

/// <summary>
/// The ledger on a PostgreSQL server, in schema <c>ledger</c>. The writer owns one unpooled
/// connection holding a session advisory lock for its whole life (a second writer is refused at
/// start) and an epoch it bumped when it loaded its cache; every batch is ONE prepared
/// <see cref="NpgsqlBatch"/> in one transaction: the epoch fence, then array-parameter
/// (<c>unnest</c>) inserts and updates, one round trip for the whole batch plus the COMMIT, with
/// <c>synchronous_commit = on</c>. Readers use a pooled data source and read several ids with one
/// statement (one snapshot). See docs/internals/ledger-postgres.md. For cells
/// (docs/internals/cells.md) the two legs of a transfer between partitions are two rows with one
/// id, unique by (id, leg); the cell's identity, its ownership table and the credit legs it owes
/// other cells are tables of the same schema, written in the same fenced transactions.
/// </summary>
public sealed partial class PostgresLedgerStore : ILedgerStore
{
    private const long AdvisoryLockKey = 0x42_57_4C_45_44_47_45_52; // "BWLEDGER"
    private readonly string _connectionString;
    private readonly NpgsqlDataSource _readers;
    private readonly NpgsqlDataSource _writerSource;
    private Writer? _writer;
    private CommittedIdFilter? _committedIds;
    private int _partitionCount;
    private bool _opened;
    private bool _disposed;

    public PostgresLedgerStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
        var readers = new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 16, AutoPrepareMinUsages = 2 };
        _readers = NpgsqlDataSource.Create(readers);
        // Unpooled: closing the writer's connection must end its session, and with it the advisory lock.
        var writer = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, MaxAutoPrepare = 16 };
        _writerSource = NpgsqlDataSource.Create(writer);
    }

    /// <summary>Where this store points (host:port/database as user), for messages.</summary>
    public string Description => PostgresConnections.Describe(_connectionString);

    /// <summary>The backend process id of the writer's connection (0 when not connected); tests use it to cut the connection.</summary>
    public int WriterProcessId => _writer?.Connection.ProcessID ?? 0;

    /// <summary>The epoch this writer holds (bumped on every (re)connect).</summary>
    public long WriterEpoch => _writer?.Epoch ?? 0;

    public void Open(int partitionCount)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_opened)
        {
            throw new InvalidOperationException("The ledger store is already open.");
        }
        using (var connection = PostgresConnections.Open(_readers))
        {
            PostgresMigrator.Apply(connection, PostgresLedgerSchema.Schema, PostgresLedgerSchema.Migrations);
            CheckPartitionCount(connection, partitionCount);
        }
        _partitionCount = partitionCount;
        _writer = Connect();
        _opened = true;
    }

    public IReadOnlyList<LedgerAccount> LoadAccounts()
    {
        // The writer (re)loads its cache here, at start and after a failed batch: a lost
        // connection is replaced now, taking the lock again and a new epoch, so the cache loaded
        // below is exactly what the next batch's fence protects.
        var writer = EnsureWriter(reconnect: true);
        _committedIds = null;
        _committedIds = Guard(() => LoadCommittedIds(writer, 0));
        return Guard(() =>
        {
            using var command = new NpgsqlCommand($"SELECT {PostgresLedgerSchema.AccountColumns} FROM ledger.accounts", writer.Connection);
            using var reader = command.ExecuteReader();
            var accounts = new List<LedgerAccount>();
            while (reader.Read())
            {
                accounts.Add(ReadAccount(reader));
            }
            return accounts;
        });
    }

    public LedgerWriterPosition LoadPosition()
    {
        var writer = EnsureWriter(reconnect: false);
        return Guard(() =>
        {
            using var command = new NpgsqlCommand(
                "SELECT coalesce(max(sequence), 0), coalesce(max(timestamp), 0) FROM ledger.transfers", writer.Connection);
            using var reader = command.ExecuteReader();
            reader.Read();
            return new LedgerWriterPosition(reader.GetInt64(0), reader.GetInt64(1));
        });
    }

    public LedgerOutboxPosition LoadOutboxPosition()
    {
        var writer = EnsureWriter(reconnect: false);
        return Guard(() =>
        {
            using var batch = new NpgsqlBatch(writer.Connection)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("SELECT partition, max(partition_sequence), max(cell_sequence) FROM ledger.ledger_outbox GROUP BY partition"),
                    new NpgsqlBatchCommand("SELECT coalesce((SELECT value FROM ledger.ledger_meta WHERE key = 'outbox_watermark'), 0)"),
                },
            };
            using var reader = batch.ExecuteReader();
            var partitions = new Dictionary<int, long>();
            long cellSequence = 0;
            while (reader.Read())
            {
                partitions[reader.GetInt32(0)] = reader.GetInt64(1);
                cellSequence = Math.Max(cellSequence, reader.GetInt64(2));
            }
            reader.NextResult();
            reader.Read();
            return new LedgerOutboxPosition(cellSequence, reader.GetInt64(0), partitions);
        });
    }

    public async Task<IReadOnlyList<LedgerOutboxEvent>> ReadOutboxAsync(long afterCellSequence, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            "SELECT cell_sequence, partition, partition_sequence, kind, committed_at, payload FROM ledger.ledger_outbox " +
            "WHERE cell_sequence > $1 ORDER BY cell_sequence LIMIT $2", connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterCellSequence });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var events = new List<LedgerOutboxEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(new LedgerOutboxEvent(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt32(3),
                (byte[])reader.GetValue(5), reader.GetInt64(4)));
        }
        return events;
    }

    public LedgerCellRecord? LoadCell()
    {
        var writer = EnsureWriter(reconnect: false);
        return Guard(() =>
        {
            // One round trip; the tables change only in this writer's transactions.
            using var batch = new NpgsqlBatch(writer.Connection)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("SELECT key, value FROM ledger.cell_identity"),
                    new NpgsqlBatchCommand("SELECT partition, epoch, state, owner_cell, owner_epoch, lease_until FROM ledger.partition_owners ORDER BY partition"),
                    new NpgsqlBatchCommand("SELECT partition, source_cell, source_epoch, watermark, state, digest, event_sequence FROM ledger.partition_imports ORDER BY partition"),
                },
            };
            using var reader = batch.ExecuteReader();
            string? cell = null;
            var clusterId = "";
            while (reader.Read())
            {
                switch (reader.GetString(0))
                {
                    case "cell":
                        cell = reader.GetString(1);
                        break;
                    case "cluster_id":
                        clusterId = reader.GetString(1);
                        break;
                }
            }
            reader.NextResult();
            var rows = new List<Cells.PartitionOwnership>();
            while (reader.Read())
            {
                rows.Add(new Cells.PartitionOwnership(reader.GetInt32(0), reader.GetInt64(1), (Cells.OwnershipState)reader.GetInt32(2), reader.GetString(3),
                    reader.GetInt64(4), reader.GetInt64(5)));
            }
            reader.NextResult();
            var imports = new List<PartitionImportRecord>();
            while (reader.Read())
            {
                imports.Add(new PartitionImportRecord(reader.GetInt32(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3),
                    (ImportRecordState)reader.GetInt32(4), reader.IsDBNull(5) ? [] : reader.GetFieldValue<byte[]>(5), reader.GetInt64(6)));
            }
            return cell is null ? null : new LedgerCellRecord(cell, clusterId, rows) { Imports = imports };
        });
    }

    public void InitialiseCell(string cell, string clusterId, IReadOnlyList<int> owned)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cell);
        ArgumentNullException.ThrowIfNull(owned);
        var writer = EnsureWriter(reconnect: false);
        var partitions = owned.ToArray();
        // A partition outside the count would make the ownership table unreadable (CellOwnership
        // refuses it at every start), so it is refused here, before anything is written.
        if (partitions.Any(partition => partition < 0 || partition >= _partitionCount) || partitions.Distinct().Count() != partitions.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(owned), string.Create(CultureInfo.InvariantCulture,
                $"Owned partitions must be distinct and in 0..{_partitionCount - 1}."));
        }
        // The refusals are decided inside the transaction but thrown outside Guard: a refusal is
        // not a broken connection (the transaction is rolled back as it is disposed).
        var refusal = Guard(() => InitialiseCellTransaction(writer, cell, clusterId ?? "", partitions));
        if (refusal is not null)
        {
            throw new InvalidOperationException(refusal);
        }
    }

    /// <summary>
    /// InitialiseCell's one transaction. It starts with the writer fence, as every batch does: the
    /// fence refuses a writer another one has taken over from, and its share lock on the epoch row
    /// keeps any other writer from taking over (bumping the epoch) until this commits, so the
    /// checks below still hold when the rows are written. Returns why it refused, or null.
    /// </summary>
    private static string? InitialiseCellTransaction(Writer writer, string cell, string clusterId, int[] owned)
    {
        using var transaction = writer.Connection.BeginTransaction(IsolationLevel.ReadCommitted);
        using (var check = new NpgsqlBatch(writer.Connection, transaction))
        {
            check.BatchCommands.Add(new NpgsqlBatchCommand("SELECT ledger.writer_fence($1)")
            {
                Parameters = { new NpgsqlParameter<long> { TypedValue = writer.Epoch } },
            });
            check.BatchCommands.Add(new NpgsqlBatchCommand(
                "SELECT (SELECT count(*) FROM ledger.cell_identity), " +
                "ARRAY(SELECT DISTINCT partition FROM ledger.accounts WHERE partition <> ALL($1) ORDER BY partition)")
            {
                Parameters = { new NpgsqlParameter<int[]> { TypedValue = owned } },
            });
            using var reader = check.ExecuteReader();
            reader.NextResult();
            reader.Read();
            if (reader.GetInt64(0) != 0)
            {
                return "The ledger store already belongs to a cell.";
            }
            var foreign = reader.GetFieldValue<int[]>(1);
            if (foreign.Length > 0)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"The ledger store holds accounts of {foreign.Length} partitions (e.g. {foreign[0]}) that cell '{cell}' would not own; refusing to hide their data. Give this cell every partition its store holds.");
            }
        }
        using (var insert = new NpgsqlBatch(writer.Connection, transaction))
        {
            insert.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO ledger.cell_identity (key, value) VALUES ('cell', $1), ('cluster_id', $2)")
            {
                Parameters = { new NpgsqlParameter<string> { TypedValue = cell }, new NpgsqlParameter<string> { TypedValue = clusterId } },
            });
            insert.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO ledger.partition_owners (partition, epoch, state) SELECT p, 1, 1 FROM unnest($1) AS p")
            {
                Parameters = { new NpgsqlParameter<int[]> { TypedValue = owned } },
            });
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
        return null;
    }

    public LedgerTransfer? FindTransfer(UInt128 id) => FindRow(id, leg: null);

    public LedgerTransfer? FindLeg(UInt128 id, TransferLeg leg) => FindRow(id, leg);

    /// <summary>The WHOLE or DEBIT row of <paramref name="id"/> (<paramref name="leg"/> null), or the row of that leg.</summary>
    private LedgerTransfer? FindRow(UInt128 id, TransferLeg? leg)
    {
        var writer = EnsureWriter(reconnect: false);
        if (_committedIds is { } filter && !filter.MayContain(id))
        {
            // Certainly never committed, in any leg: no round trip (almost every new transfer's
            // idempotency check, and every credit leg delivered for the first time).
            return null;
        }
        return Guard(() =>
        {
            var command = writer.FindTransfer;
            if (leg is { } value)
            {
                command = writer.FindLeg;
                command.Parameters[1].Value = (short)value;
            }
            command.Parameters[0].Value = ToGuid(id);
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadTransfer(reader) : null;
        });
    }

    public IReadOnlyList<LedgerTransfer> FindExpiredHolds(long nowUnixMs, int limit, IReadOnlyCollection<int> notServed)
    {
        ArgumentNullException.ThrowIfNull(notServed);
        var writer = EnsureWriter(reconnect: false);
        return Guard(() =>
        {
            writer.FindExpiredHolds.Parameters[0].Value = nowUnixMs;
            writer.FindExpiredHolds.Parameters[1].Value = limit;
            // Copies of partitions this cell does not serve are not its to expire.
            writer.FindExpiredHolds.Parameters[2].Value = notServed.ToArray();
            using var reader = writer.FindExpiredHolds.ExecuteReader();
            var holds = new List<LedgerTransfer>();
            while (reader.Read())
            {
                holds.Add(ReadTransfer(reader));
            }
            return holds;
        });
    }

    public void Commit(LedgerCommit commit)
    {
        ArgumentNullException.ThrowIfNull(commit);
        if (commit.IsEmpty)
        {
            return;
        }
        var writer = EnsureWriter(reconnect: false);
        Guard(() =>
        {
            writer.Bind(commit);
            using var transaction = writer.Connection.BeginTransaction(IsolationLevel.ReadCommitted);
            writer.Batch.Transaction = transaction;
            writer.Batch.ExecuteNonQuery();
            ExpectRows(writer.Batch.BatchCommands[3].RecordsAffected, commit.ChangedHolds.Count, "holds");
            ExpectRows(writer.Batch.BatchCommands[4].RecordsAffected, commit.Balances.Count, "account balances");
            transaction.Commit();
            return 0;
        });
        RememberCommitted(writer, commit.NewTransfers.Select(row => row.Row.Id));
    }

    /// <summary>
    /// Adds ids just committed (by a batch, or imported with a partition) to the committed-id
    /// filter, rebuilding it larger when it is full. Every id the database holds must be in it:
    /// an id left out would be answered "never committed" without asking the database.
    /// </summary>
    private void RememberCommitted(Writer writer, IEnumerable<UInt128> ids)
    {
        if (_committedIds is not { } filter)
        {
            return;
        }
        foreach (var id in ids)
        {
            filter.Add(id);
        }
        if (filter.Count > filter.Capacity)
        {
            _committedIds = null;
            _committedIds = Guard(() => LoadCommittedIds(writer, filter.Count * 2));
        }
    }

    /// <summary>Builds the filter of committed transfer ids from the database (at load, and when it outgrows its size).</summary>
    private static CommittedIdFilter LoadCommittedIds(Writer writer, long atLeast)
    {
        long count;
        using (var counting = new NpgsqlCommand("SELECT count(*) FROM ledger.transfers", writer.Connection))
        {
            count = (long)counting.ExecuteScalar()!;
        }
        var filter = new CommittedIdFilter(Math.Max(atLeast, count * 2));
        using var command = new NpgsqlCommand("SELECT id FROM ledger.transfers", writer.Connection);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            filter.Add(FromGuid(reader.GetGuid(0)));
        }
        return filter;
    }

    public async Task<IReadOnlyList<LedgerAccount>> GetAccountsAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ids.Count == 0)
        {
            return [];
        }
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"SELECT {PostgresLedgerSchema.AccountColumns} FROM ledger.accounts WHERE id = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids.Select(ToGuid).ToArray() });
        var found = new Dictionary<UInt128, LedgerAccount>(ids.Count);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var account = ReadAccount(reader);
                found[account.Id] = account;
            }
        }
        return ids.Where(found.ContainsKey).Select(id => found[id]).ToList();
    }

    public async Task<IReadOnlyList<LedgerTransfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ids.Count == 0)
        {
            return [];
        }
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE id = ANY($1) AND leg <= 1", connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids.Select(ToGuid).ToArray() });
        var found = new Dictionary<UInt128, LedgerTransfer>(ids.Count);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var transfer = ReadTransfer(reader);
                found[transfer.Id] = transfer;
            }
        }
        return ids.Where(found.ContainsKey).Select(id => found[id]).ToList();
    }

    public async Task<IReadOnlyList<LedgerTransfer>> ListAccountTransfersAsync(UInt128 accountId, long beforeSequence, long sinceUnixMs, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // Each arm is an index scan in sequence order; PostgreSQL merges them (Merge Append) and
        // stops at the limit. The leg is a filter on the scanned rows, not an index column: only the
        // other partition's leg of a transfer between partitions fails it (ILedgerStore says which).
        await using var command = new NpgsqlCommand(
            $"(SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE debit_account_id = $1 AND sequence < $2 AND leg <> 2 ORDER BY sequence DESC LIMIT $3) " +
            $"UNION ALL (SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE credit_account_id = $1 AND sequence < $2 AND leg IN (0, 2) ORDER BY sequence DESC LIMIT $3) " +
            "ORDER BY sequence DESC LIMIT $3", connection);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = ToGuid(accountId) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = beforeSequence });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        var page = new List<LedgerTransfer>(Math.Min(limit, LedgerLimits.ListTransfersLimitMax + 1));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // Timestamps never decrease with sequence: the first one older than `since` ends the page.
            if (reader.GetInt64(11) < sinceUnixMs)
            {
                break;
            }
            page.Add(ReadTransfer(reader));
        }
        return page;
    }

    public async Task<IReadOnlyList<OwedCreditLeg>> GetOwedCreditLegsAsync(int limit, IReadOnlyCollection<int> notServed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentNullException.ThrowIfNull(notServed);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // The partial index credit_legs_owed_open is in created_at order and holds only open legs;
        // legs of copies this cell does not serve are not its to deliver (nor to stall the others).
        await using var command = new NpgsqlCommand(
            $"SELECT {PostgresLedgerSchema.OwedLegColumns} FROM ledger.credit_legs_owed WHERE state = 0 AND partition <> ALL($2) ORDER BY created_at LIMIT $1", connection);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = notServed.ToArray() });
        var legs = new List<OwedCreditLeg>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            legs.Add(ReadOwedLeg(reader));
        }
        return legs;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _writer?.Dispose();
        _writer = null;
        _readers.Dispose();
        _writerSource.Dispose();
    }

    internal static Guid ToGuid(UInt128 id)
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        return new Guid(bytes, bigEndian: true);
    }

    internal static UInt128 FromGuid(Guid guid)
    {
        Span<byte> bytes = stackalloc byte[16];
        guid.TryWriteBytes(bytes, bigEndian: true, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    internal static LedgerAccount ReadAccount(NpgsqlDataReader reader) => new()
    {
        Id = FromGuid(reader.GetGuid(0)),
        Currency = reader.GetString(1),
        Flags = (AccountFlags)reader.GetInt64(2),
        OverdraftLimit = reader.GetInt64(3),
        Code = checked((uint)reader.GetInt64(4)),
        DebitsPending = reader.GetInt64(5),
        DebitsPosted = reader.GetInt64(6),
        CreditsPending = reader.GetInt64(7),
        CreditsPosted = reader.GetInt64(8),
        CreatedAtUnixMs = reader.GetInt64(9),
    };

    internal static LedgerTransfer ReadTransfer(NpgsqlDataReader reader) => new()
    {
        Sequence = reader.GetInt64(0),
        Id = FromGuid(reader.GetGuid(1)),
        DebitAccountId = FromGuid(reader.GetGuid(2)),
        CreditAccountId = FromGuid(reader.GetGuid(3)),
        Amount = reader.GetInt64(4),
        Currency = reader.GetString(5),
        PendingId = reader.IsDBNull(6) ? UInt128.Zero : FromGuid(reader.GetGuid(6)),
        Flags = (TransferFlags)reader.GetInt64(7),
        TimeoutSeconds = checked((uint)reader.GetInt64(8)),
        Code = checked((uint)reader.GetInt64(9)),
        Metadata = MetadataJson.Parse(reader.IsDBNull(10) ? null : reader.GetString(10)),
        TimestampUnixMs = reader.GetInt64(11),
        State = (TransferState)reader.GetInt64(12),
        PostedAmount = reader.GetInt64(13),
        ExpiresAtUnixMs = reader.GetInt64(14),
        Leg = (TransferLeg)reader.GetInt16(15),
    };

    /// <summary>Reads the columns of <see cref="PostgresLedgerSchema.OwedLegColumns"/>, in that order.</summary>
    internal static OwedCreditLeg ReadOwedLeg(NpgsqlDataReader reader) => new(
        reader.GetInt32(1),
        new LedgerTransfer
        {
            Id = FromGuid(reader.GetGuid(0)),
            DebitAccountId = FromGuid(reader.GetGuid(2)),
            CreditAccountId = FromGuid(reader.GetGuid(3)),
            Amount = reader.GetInt64(4),
            Currency = reader.GetString(5),
            Code = checked((uint)reader.GetInt64(6)),
            Metadata = MetadataJson.Parse(reader.IsDBNull(7) ? null : reader.GetString(7)),
            TimestampUnixMs = reader.GetInt64(8),
            State = TransferState.Posted,
            Leg = TransferLeg.Credit,
        },
        (OwedLegState)reader.GetInt32(9));

    private Writer EnsureWriter(bool reconnect)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_opened)
        {
            throw new InvalidOperationException("The ledger store is not open: call Open first.");
        }
        if (_writer is { IsBroken: false } writer)
        {
            return writer;
        }
        var previous = _writer;
        _writer = null;
        if (previous is not null)
        {
            ReleaseLockQuietly(previous);
            previous.Dispose();
        }
        if (!reconnect)
        {
            throw new LedgerStoreUnavailableException(
                $"The ledger writer's connection to {Description} was lost; it reconnects when it next reloads its cache.");
        }
        _writer = Connect(previous is null ? 1 : ReconnectLockAttemptsMax);
        return _writer;
    }

    /// <summary>
    /// Attempts, 100 ms apart, to take the writer lock when replacing this store's own lost or
    /// fenced session: the server ends a closed or terminated session (and frees its advisory
    /// lock) a moment after the client lets go, so a single attempt could find our own old session
    /// still holding it. A genuinely different writer is still refused, ~2 s later.
    /// </summary>
    private const int ReconnectLockAttemptsMax = 20;

    /// <summary>Frees the advisory lock on a session still usable (a fenced one) before closing it; best effort.</summary>
    private static void ReleaseLockQuietly(Writer writer)
    {
        try
        {
            if (writer.Connection.State == ConnectionState.Open)
            {
                using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", writer.Connection) { CommandTimeout = 2 };
                unlock.ExecuteNonQuery();
            }
        }
        catch (Exception error) when (error is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
        {
            // The session is going anyway; the server frees the lock when it ends.
        }
    }

    /// <summary>Runs a writer operation; a failure that leaves the connection unusable marks it broken so the next reload replaces it.</summary>
    private T Guard<T>(Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception error) when (error is NpgsqlException or IOException or TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            if (_writer is { } writer && (writer.Connection.FullState & ConnectionState.Open) == 0 || error is not PostgresException)
            {
                _writer?.MarkBroken();
            }
            if (error is PostgresException { SqlState: PostgresLedgerSchema.FencedSqlState } fenced)
            {
                _writer?.MarkBroken();
                throw new LedgerStoreUnavailableException(
                    $"This ledger writer was fenced off: {fenced.MessageText}. It reloads before writing again.", fenced);
            }
            throw;
        }
    }

    private Writer Connect(int lockAttempts = 1)
    {
        var connection = PostgresConnections.Open(_writerSource);
        try
        {
            using (var settings = new NpgsqlCommand("SET synchronous_commit = on; SET search_path TO ledger", connection))
            {
                settings.ExecuteNonQuery();
            }
            using (var lockCommand = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection))
            {
                lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = AdvisoryLockKey });
                var locked = lockCommand.ExecuteScalar() is true;
                for (var attempt = 1; !locked && attempt < lockAttempts; attempt++)
                {
                    Thread.Sleep(100);
                    locked = lockCommand.ExecuteScalar() is true;
                }
                if (!locked)
                {
                    throw new LedgerStoreUnavailableException(
                        $"Another ledger writer holds the ledger in {Description} (advisory lock {AdvisoryLockKey}). One writer per ledger database: stop the other process, or point this one at its own database.");
                }
            }
            long epoch;
            using (var bump = new NpgsqlCommand(
                "UPDATE ledger.ledger_meta SET value = value + 1 WHERE key = 'writer_epoch' RETURNING value", connection))
            {
                epoch = (long)bump.ExecuteScalar()!;
            }
            return new Writer(connection, epoch, _partitionCount);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void CheckPartitionCount(NpgsqlConnection connection, int partitionCount)
    {
        using (var insert = new NpgsqlCommand(
            "INSERT INTO ledger.ledger_meta (key, value) VALUES ('partition_count', $1) ON CONFLICT (key) DO NOTHING", connection))
        {
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = partitionCount });
            insert.ExecuteNonQuery();
        }
        using var command = new NpgsqlCommand("SELECT value FROM ledger.ledger_meta WHERE key = 'partition_count'", connection);
        var stored = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        if (stored != partitionCount)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The ledger database {Description} was created with {stored} partitions; this process is configured with {partitionCount}. Every row stores its partition, so the count cannot change in place."));
        }
    }

    private static void ExpectRows(int changed, int expected, string what)
    {
        if (changed != expected)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"Updating {expected} {what} changed {changed} rows: the store and the writer disagree. The batch was rolled back."));
        }
    }

    /// <summary>The writer's connection, its epoch and its prepared statements.</summary>
    private sealed class Writer : IDisposable
    {
        private readonly Columns _columns = new();

        private readonly int _partitionCount;

        public Writer(NpgsqlConnection connection, long epoch, int partitionCount)
        {
            Connection = connection;
            Epoch = epoch;
            _partitionCount = partitionCount;
            // The unique index on (id, leg) answers both: a range on leg for the primary row.
            FindTransfer = new NpgsqlCommand(
                $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE id = $1 AND leg <= 1", connection);
            FindTransfer.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid });
            FindTransfer.Prepare();
            FindLeg = new NpgsqlCommand(
                $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE id = $1 AND leg = $2", connection);
            FindLeg.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid });
            FindLeg.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Smallint });
            FindLeg.Prepare();
            FindExpiredHolds = new NpgsqlCommand(
                $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers " +
                "WHERE state = 2 AND expires_at > 0 AND expires_at <= $1 AND partition <> ALL($3) ORDER BY expires_at LIMIT $2", connection);
            FindExpiredHolds.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint });
            FindExpiredHolds.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer });
            FindExpiredHolds.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            FindExpiredHolds.Prepare();
            Batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    Command("SELECT ledger.writer_fence($1)", NpgsqlDbType.Bigint),
                    Command(
                        "INSERT INTO ledger.accounts (id, partition, currency, flags, overdraft_limit, code, debits_pending, debits_posted, " +
                        "credits_pending, credits_posted, created_at) " +
                        "SELECT a.id, a.partition, a.currency, a.flags, a.overdraft_limit, a.code, 0, 0, 0, 0, a.created_at " +
                        "FROM unnest($1, $2, $3, $4, $5, $6, $7) AS a(id, partition, currency, flags, overdraft_limit, code, created_at)",
                        Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Integer), Arr(NpgsqlDbType.Text), Arr(NpgsqlDbType.Bigint),
                        Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint)),
                    InsertTransfers(),
                    // A hold is a WHOLE or DEBIT row; a credit leg is written only once the hold is posted.
                    Command(
                        "UPDATE ledger.transfers AS t SET state = h.state, posted_amount = h.posted_amount " +
                        "FROM unnest($1, $2, $3) AS h(id, state, posted_amount) WHERE t.id = h.id AND t.leg <= 1",
                        Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint)),
                    Command(
                        "UPDATE ledger.accounts AS a SET debits_pending = b.dp, debits_posted = b.dpo, credits_pending = b.cp, credits_posted = b.cpo " +
                        "FROM unnest($1, $2, $3, $4, $5) AS b(id, dp, dpo, cp, cpo) WHERE a.id = b.id",
                        Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint)),
                    Command(
                        "INSERT INTO ledger.credit_legs_owed (id, partition, credit_partition, debit_account_id, credit_account_id, " +
                        "amount, currency, code, metadata, created_at) " +
                        "SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Integer), Arr(NpgsqlDbType.Integer), Arr(NpgsqlDbType.Uuid),
                        Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Text), Arr(NpgsqlDbType.Bigint),
                        Arr(NpgsqlDbType.Text), Arr(NpgsqlDbType.Bigint)),
                    // Only an owed leg still open is settled: settling one already settled (a
                    // delivery acknowledged twice) changes nothing, so no row count is demanded.
                    Command(
                        "UPDATE ledger.credit_legs_owed AS o SET state = s.state " +
                        "FROM unnest($1, $2) AS s(id, state) WHERE o.id = s.id AND o.state = 0",
                        Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Integer)),
                    Command(
                        "INSERT INTO ledger.ledger_outbox (cell_sequence, partition, partition_sequence, kind, committed_at, payload) " +
                        "SELECT * FROM unnest($1, $2, $3, $4, $5, $6)",
                        Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Integer), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Integer),
                        Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bytea)),
                    // The relay's watermark ($1 = 0: none this batch), and published rows pruned but
                    // for each partition's newest: it is where the partition's numbering resumes.
                    Command(
                        "UPDATE ledger.ledger_meta SET value = greatest(value, $1) WHERE key = 'outbox_watermark' AND $1 > 0",
                        NpgsqlDbType.Bigint),
                    Command(
                        "DELETE FROM ledger.ledger_outbox WHERE $1 > 0 AND cell_sequence <= $1 " +
                        "AND cell_sequence NOT IN (SELECT max(cell_sequence) FROM ledger.ledger_outbox GROUP BY partition)",
                        NpgsqlDbType.Bigint),
                },
            };
            Batch.Prepare();
        }

        public NpgsqlConnection Connection { get; }

        public long Epoch { get; }

        public NpgsqlCommand FindTransfer { get; }

        public NpgsqlCommand FindLeg { get; }

        public NpgsqlCommand FindExpiredHolds { get; }

        public NpgsqlBatch Batch { get; }

        public bool IsBroken { get; private set; }

        public void MarkBroken() => IsBroken = true;

        public void Bind(LedgerCommit commit)
        {
            var c = _columns;
            c.Reset(commit);
            foreach (var (partition, account) in commit.NewAccounts)
            {
                c.AccountIds.Add(ToGuid(account.Id));
                c.AccountPartitions.Add(partition);
                c.AccountCurrencies.Add(account.Currency);
                c.AccountFlags.Add((long)account.Flags);
                c.AccountOverdrafts.Add(account.OverdraftLimit);
                c.AccountCodes.Add(account.Code);
                c.AccountCreated.Add(account.CreatedAtUnixMs);
            }
            foreach (var (partition, transfer) in commit.NewTransfers)
            {
                c.AddTransfer(partition, transfer);
            }
            foreach (var hold in commit.ChangedHolds)
            {
                c.HoldIds.Add(ToGuid(hold.Id));
                c.HoldStates.Add((long)hold.State);
                c.HoldPosted.Add(hold.PostedAmount);
            }
            foreach (var account in commit.Balances)
            {
                c.BalanceIds.Add(ToGuid(account.Id));
                c.DebitsPending.Add(account.DebitsPending);
                c.DebitsPosted.Add(account.DebitsPosted);
                c.CreditsPending.Add(account.CreditsPending);
                c.CreditsPosted.Add(account.CreditsPosted);
            }
            BindOwedLegs(commit, c);
            var commands = Batch.BatchCommands;
            commands[0].Parameters[0].Value = Epoch;
            Set(commands[1], c.AccountIds, c.AccountPartitions, c.AccountCurrencies, c.AccountFlags, c.AccountOverdrafts, c.AccountCodes, c.AccountCreated);
            SetTransfers(commands[2], c);
            Set(commands[3], c.HoldIds, c.HoldStates, c.HoldPosted);
            Set(commands[4], c.BalanceIds, c.DebitsPending, c.DebitsPosted, c.CreditsPending, c.CreditsPosted);
            Set(commands[5], c.OwedIds, c.OwedPartitions, c.OwedCreditPartitions, c.OwedDebits, c.OwedCredits, c.OwedAmounts,
                c.OwedCurrencies, c.OwedCodes, c.OwedMetadata, c.OwedCreated);
            Set(commands[6], c.SettledIds, c.SettledStates);
            foreach (var outboxEvent in commit.Events)
            {
                c.OutboxSequences.Add(outboxEvent.CellSequence);
                c.OutboxPartitions.Add(outboxEvent.Partition);
                c.OutboxPartitionSequences.Add(outboxEvent.PartitionSequence);
                c.OutboxKinds.Add(outboxEvent.Kind);
                c.OutboxCommitted.Add(outboxEvent.CommittedAtUnixMs);
                c.OutboxPayloads.Add(outboxEvent.Payload);
            }
            Set(commands[7], c.OutboxSequences, c.OutboxPartitions, c.OutboxPartitionSequences, c.OutboxKinds, c.OutboxCommitted, c.OutboxPayloads);
            commands[8].Parameters[0].Value = commit.OutboxWatermark;
            commands[9].Parameters[0].Value = commit.OutboxWatermark;
        }

        /// <summary>
        /// The insert of a partition's rows exported by its owner (already numbered with this
        /// store's sequences), bound to the writer's reused columns: run it before the next bind.
        /// </summary>
        public NpgsqlBatchCommand BindImportedTransfers(int partition, IReadOnlyList<LedgerTransfer> transfers)
        {
            var c = _columns;
            c.Reset(null);
            foreach (var transfer in transfers)
            {
                c.AddTransfer(partition, transfer);
            }
            var command = InsertTransfers();
            SetTransfers(command, c);
            return command;
        }

        private static NpgsqlBatchCommand InsertTransfers() => Command(
            "INSERT INTO ledger.transfers (sequence, id, partition, debit_account_id, credit_account_id, amount, currency, " +
            "pending_id, flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at, leg) " +
            "SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Integer), Arr(NpgsqlDbType.Uuid),
            Arr(NpgsqlDbType.Uuid), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Text), Arr(NpgsqlDbType.Uuid),
            Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Text),
            Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint), Arr(NpgsqlDbType.Bigint),
            Arr(NpgsqlDbType.Smallint));

        private static void SetTransfers(NpgsqlBatchCommand command, Columns c) =>
            Set(command, c.Sequences, c.TransferIds, c.TransferPartitions, c.Debits, c.Credits, c.Amounts, c.Currencies, c.PendingIds,
                c.Flags, c.Timeouts, c.Codes, c.Metadata, c.Timestamps, c.States, c.Posted, c.Expires, c.Legs);

        private void BindOwedLegs(LedgerCommit commit, Columns c)
        {
            foreach (var (partition, leg) in commit.NewOwedLegs.Select(owed => (owed.Partition, owed.Leg)))
            {
                c.OwedIds.Add(ToGuid(leg.Id));
                c.OwedPartitions.Add(partition);
                c.OwedCreditPartitions.Add(LedgerPartitioner.PartitionOf(leg.CreditAccountId, _partitionCount));
                c.OwedDebits.Add(ToGuid(leg.DebitAccountId));
                c.OwedCredits.Add(ToGuid(leg.CreditAccountId));
                c.OwedAmounts.Add(leg.Amount);
                c.OwedCurrencies.Add(leg.Currency);
                c.OwedCodes.Add(leg.Code);
                c.OwedMetadata.Add(MetadataJson.Serialize(leg.Metadata));
                c.OwedCreated.Add(leg.TimestampUnixMs);
            }
            foreach (var (id, state) in commit.SettledOwedLegs)
            {
                // One UPDATE applies each id once; the first settlement of an id in the batch is
                // the one that counts, as when they are applied one after another.
                var guid = ToGuid(id);
                if (c.SettledSeen.Add(guid))
                {
                    c.SettledIds.Add(guid);
                    c.SettledStates.Add((int)state);
                }
            }
        }

        public void Dispose()
        {
            FindTransfer.Dispose();
            FindLeg.Dispose();
            FindExpiredHolds.Dispose();
            Batch.Dispose();
            Connection.Dispose();
        }

        private static void Set(NpgsqlBatchCommand command, params object[] values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i];
            }
        }

        private static NpgsqlDbType Arr(NpgsqlDbType element) => NpgsqlDbType.Array | element;

        private static NpgsqlBatchCommand Command(string sql, params NpgsqlDbType[] types)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var type in types)
            {
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = type });
            }
            return command;
        }
    }

    /// <summary>Column lists reused from batch to batch (bound as PostgreSQL arrays).</summary>
    private sealed class Columns
    {
        public List<Guid> AccountIds { get; } = [];
        public List<int> AccountPartitions { get; } = [];
        public List<string> AccountCurrencies { get; } = [];
        public List<long> AccountFlags { get; } = [];
        public List<long> AccountOverdrafts { get; } = [];
        public List<long> AccountCodes { get; } = [];
        public List<long> AccountCreated { get; } = [];
        public List<long> Sequences { get; } = [];
        public List<Guid> TransferIds { get; } = [];
        public List<int> TransferPartitions { get; } = [];
        public List<Guid> Debits { get; } = [];
        public List<Guid> Credits { get; } = [];
        public List<long> Amounts { get; } = [];
        public List<string> Currencies { get; } = [];
        public List<Guid?> PendingIds { get; } = [];
        public List<long> Flags { get; } = [];
        public List<long> Timeouts { get; } = [];
        public List<long> Codes { get; } = [];
        public List<string?> Metadata { get; } = [];
        public List<long> Timestamps { get; } = [];
        public List<long> States { get; } = [];
        public List<long> Posted { get; } = [];
        public List<long> Expires { get; } = [];
        public List<short> Legs { get; } = [];
        public List<Guid> HoldIds { get; } = [];
        public List<long> HoldStates { get; } = [];
        public List<long> HoldPosted { get; } = [];
        public List<Guid> BalanceIds { get; } = [];
        public List<long> DebitsPending { get; } = [];
        public List<long> DebitsPosted { get; } = [];
        public List<long> CreditsPending { get; } = [];
        public List<long> CreditsPosted { get; } = [];
        public List<Guid> OwedIds { get; } = [];
        public List<int> OwedPartitions { get; } = [];
        public List<int> OwedCreditPartitions { get; } = [];
        public List<Guid> OwedDebits { get; } = [];
        public List<Guid> OwedCredits { get; } = [];
        public List<long> OwedAmounts { get; } = [];
        public List<string> OwedCurrencies { get; } = [];
        public List<long> OwedCodes { get; } = [];
        public List<string?> OwedMetadata { get; } = [];
        public List<long> OwedCreated { get; } = [];
        public List<Guid> SettledIds { get; } = [];
        public List<int> SettledStates { get; } = [];
        public HashSet<Guid> SettledSeen { get; } = [];
        public List<long> OutboxSequences { get; } = [];
        public List<int> OutboxPartitions { get; } = [];
        public List<long> OutboxPartitionSequences { get; } = [];
        public List<int> OutboxKinds { get; } = [];
        public List<long> OutboxCommitted { get; } = [];
        public List<byte[]> OutboxPayloads { get; } = [];

        public void Reset(LedgerCommit? commit)
        {
            foreach (var property in All())
            {
                property.Clear();
            }
            SettledSeen.Clear();
            _ = commit;
        }

        public void AddTransfer(int partition, LedgerTransfer t)
        {
            Sequences.Add(t.Sequence);
            TransferIds.Add(ToGuid(t.Id));
            TransferPartitions.Add(partition);
            Debits.Add(ToGuid(t.DebitAccountId));
            Credits.Add(ToGuid(t.CreditAccountId));
            Amounts.Add(t.Amount);
            Currencies.Add(t.Currency);
            PendingIds.Add(t.PendingId == UInt128.Zero ? null : ToGuid(t.PendingId));
            Flags.Add((long)t.Flags);
            Timeouts.Add(t.TimeoutSeconds);
            Codes.Add(t.Code);
            Metadata.Add(MetadataJson.Serialize(t.Metadata));
            Timestamps.Add(t.TimestampUnixMs);
            States.Add((long)t.State);
            Posted.Add(t.PostedAmount);
            Expires.Add(t.ExpiresAtUnixMs);
            Legs.Add((short)t.Leg);
        }

        private IEnumerable<System.Collections.IList> All() =>
        [
            AccountIds, AccountPartitions, AccountCurrencies, AccountFlags, AccountOverdrafts, AccountCodes, AccountCreated,
            Sequences, TransferIds, TransferPartitions, Debits, Credits, Amounts, Currencies, PendingIds, Flags, Timeouts, Codes,
            Metadata, Timestamps, States, Posted, Expires, Legs, HoldIds, HoldStates, HoldPosted, BalanceIds, DebitsPending, DebitsPosted,
            CreditsPending, CreditsPosted, OwedIds, OwedPartitions, OwedCreditPartitions, OwedDebits, OwedCredits, OwedAmounts,
            OwedCurrencies, OwedCodes, OwedMetadata, OwedCreated, SettledIds, SettledStates,
            OutboxSequences, OutboxPartitions, OutboxPartitionSequences, OutboxKinds, OutboxCommitted, OutboxPayloads,
        ];
    }
}

/// <summary>The store cannot write now (connection lost, another writer took over); retrying later is safe.</summary>
public sealed class LedgerStoreUnavailableException : IOException
{
    public LedgerStoreUnavailableException()
    {
    }

    public LedgerStoreUnavailableException(string message)
        : base(message)
    {
    }

    public LedgerStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
