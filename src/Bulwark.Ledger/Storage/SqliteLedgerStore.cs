using System.Collections.Concurrent;
using System.Globalization;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Ledger.Storage;

/// <summary>
/// The embedded ledger store: one SQLite database (WAL, synchronous FULL) holding every partition
/// of this cell. The writer owns one connection whose statements are prepared once and reused for
/// every row of every batch; readers borrow pooled connections of their own, which WAL lets run
/// beside the writer and see only committed batches.
/// </summary>
public sealed class SqliteLedgerStore : ILedgerStore
{
    private readonly SqliteDatabase _database;
    private readonly ConcurrentBag<ReaderConnection> _readers = [];
    private WriterConnection? _writer;
    private bool _disposed;

    public SqliteLedgerStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    public SqliteLedgerStore(string path)
        : this(new SqliteDatabase(path))
    {
    }

    public string Path => _database.Path;

    public void Open(int partitionCount)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_writer is not null)
        {
            throw new InvalidOperationException("The ledger store is already open.");
        }
        var connection = _database.Open();
        try
        {
            SqliteMigrator.Apply(connection, SqliteLedgerSchema.StoreName, SqliteLedgerSchema.Migrations);
            CheckPartitionCount(connection, partitionCount);
            _writer = new WriterConnection(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public IReadOnlyList<LedgerAccount> LoadAccounts()
    {
        using var command = Writer.Connection.CreateCommand();
        command.CommandText = $"SELECT {SqliteLedgerSchema.AccountColumns} FROM accounts";
        using var reader = command.ExecuteReader();
        var accounts = new List<LedgerAccount>();
        while (reader.Read())
        {
            accounts.Add(SqliteRows.ReadAccount(reader));
        }
        return accounts;
    }

    public LedgerWriterPosition LoadPosition()
    {
        using var command = Writer.Connection.CreateCommand();
        command.CommandText = "SELECT coalesce(max(sequence), 0), coalesce(max(timestamp), 0) FROM transfers";
        using var reader = command.ExecuteReader();
        reader.Read();
        return new LedgerWriterPosition(reader.GetInt64(0), reader.GetInt64(1));
    }

    public LedgerTransfer? FindTransfer(UInt128 id)
    {
        var command = Writer.FindTransfer;
        command.Parameters[0].Value = SqliteRows.IdBytes(id);
        using var reader = command.ExecuteReader();
        return reader.Read() ? SqliteRows.ReadTransfer(reader) : null;
    }

    public IReadOnlyList<LedgerTransfer> FindExpiredHolds(long nowUnixMs, int limit)
    {
        var command = Writer.FindExpiredHolds;
        command.Parameters[0].Value = nowUnixMs;
        command.Parameters[1].Value = limit;
        using var reader = command.ExecuteReader();
        var holds = new List<LedgerTransfer>();
        while (reader.Read())
        {
            holds.Add(SqliteRows.ReadTransfer(reader));
        }
        return holds;
    }

    public void Commit(LedgerCommit commit)
    {
        ArgumentNullException.ThrowIfNull(commit);
        var writer = Writer;
        using var transaction = writer.Connection.BeginTransaction(deferred: false);
        writer.Enlist(transaction);
        foreach (var (partition, account) in commit.NewAccounts)
        {
            writer.InsertAccount(partition, account);
        }
        foreach (var (partition, transfer) in commit.NewTransfers)
        {
            writer.InsertTransfer(partition, transfer);
        }
        foreach (var hold in commit.ChangedHolds)
        {
            writer.UpdateHold(hold);
        }
        foreach (var account in commit.Balances)
        {
            writer.UpdateBalances(account);
        }
        transaction.Commit();
        writer.Enlist(null);
    }

    public Task<IReadOnlyList<LedgerAccount>> GetAccountsAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Task.FromResult(Read(reader =>
        {
            var found = new List<LedgerAccount>(ids.Count);
            foreach (var id in ids)
            {
                cancellationToken.ThrowIfCancellationRequested();
                reader.GetAccount.Parameters[0].Value = SqliteRows.IdBytes(id);
                using var rows = reader.GetAccount.ExecuteReader();
                if (rows.Read())
                {
                    found.Add(SqliteRows.ReadAccount(rows));
                }
            }
            return (IReadOnlyList<LedgerAccount>)found;
        }));
    }

    public Task<IReadOnlyList<LedgerTransfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Task.FromResult(Read(reader =>
        {
            var found = new List<LedgerTransfer>(ids.Count);
            foreach (var id in ids)
            {
                cancellationToken.ThrowIfCancellationRequested();
                reader.GetTransfer.Parameters[0].Value = SqliteRows.IdBytes(id);
                using var rows = reader.GetTransfer.ExecuteReader();
                if (rows.Read())
                {
                    found.Add(SqliteRows.ReadTransfer(rows));
                }
            }
            return (IReadOnlyList<LedgerTransfer>)found;
        }));
    }

    public Task<IReadOnlyList<LedgerTransfer>> ListAccountTransfersAsync(UInt128 accountId, long beforeSequence, long sinceUnixMs, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return Task.FromResult(Read(reader =>
        {
            var command = reader.ListAccountTransfers;
            command.Parameters[0].Value = SqliteRows.IdBytes(accountId);
            command.Parameters[1].Value = beforeSequence;
            command.Parameters[2].Value = limit;
            var page = new List<LedgerTransfer>(Math.Min(limit, LedgerLimits.ListTransfersLimitMax + 1));
            using var rows = command.ExecuteReader();
            while (rows.Read())
            {
                // Timestamps never decrease with sequence (the writer makes sure), so the first
                // transfer older than `since` ends the page: stepping no further stops the scan.
                if (rows.GetInt64(11) < sinceUnixMs)
                {
                    break;
                }
                page.Add(SqliteRows.ReadTransfer(rows));
            }
            return (IReadOnlyList<LedgerTransfer>)page;
        }));
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
        while (_readers.TryTake(out var reader))
        {
            reader.Dispose();
        }
    }

    private WriterConnection Writer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _writer ?? throw new InvalidOperationException("The ledger store is not open: call Open first.");
        }
    }

    private T Read<T>(Func<ReaderConnection, T> read)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_readers.TryTake(out var reader))
        {
            reader = new ReaderConnection(_database.Open());
        }
        try
        {
            var result = read(reader);
            Return(reader);
            return result;
        }
        catch
        {
            // A connection that failed mid-read is not trusted again.
            reader.Dispose();
            throw;
        }
    }

    private void Return(ReaderConnection reader)
    {
        if (_disposed || _readers.Count >= LedgerLimits.ReaderConnectionsPooledMax)
        {
            reader.Dispose();
            return;
        }
        _readers.Add(reader);
    }

    private static void CheckPartitionCount(SqliteConnection connection, int partitionCount)
    {
        using var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO ledger_meta (key, value) VALUES ('partition_count', $count) ON CONFLICT (key) DO NOTHING;" +
            "SELECT value FROM ledger_meta WHERE key = 'partition_count'";
        command.Parameters.AddWithValue("$count", partitionCount);
        var stored = Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        if (stored != partitionCount)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The ledger database was created with {stored} partitions; this process is configured with {partitionCount}. Every row stores its partition, so the count cannot change in place."));
        }
    }

    /// <summary>The writer's connection and its prepared statements, reused for every batch.</summary>
    private sealed class WriterConnection : IDisposable
    {
        private readonly SqliteCommand[] _writes;

        public WriterConnection(SqliteConnection connection)
        {
            Connection = connection;
            FindTransfer = SqliteRows.Prepare(connection,
                $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE id = $id", "$id");
            FindExpiredHolds = SqliteRows.Prepare(connection,
                $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers " +
                "WHERE state = 2 AND expires_at > 0 AND expires_at <= $now ORDER BY expires_at LIMIT $limit",
                "$now", "$limit");
            InsertAccountCommand = SqliteRows.Prepare(connection,
                "INSERT INTO accounts (id, partition, currency, flags, overdraft_limit, code, debits_pending, " +
                "debits_posted, credits_pending, credits_posted, created_at) " +
                "VALUES ($id, $partition, $currency, $flags, $overdraft, $code, 0, 0, 0, 0, $created)",
                "$id", "$partition", "$currency", "$flags", "$overdraft", "$code", "$created");
            InsertTransferCommand = SqliteRows.Prepare(connection,
                "INSERT INTO transfers (sequence, id, partition, debit_account_id, credit_account_id, amount, currency, " +
                "pending_id, flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at) " +
                "VALUES ($sequence, $id, $partition, $debit, $credit, $amount, $currency, $pending, $flags, $timeout, " +
                "$code, $metadata, $timestamp, $state, $posted, $expires)",
                "$sequence", "$id", "$partition", "$debit", "$credit", "$amount", "$currency", "$pending", "$flags",
                "$timeout", "$code", "$metadata", "$timestamp", "$state", "$posted", "$expires");
            UpdateHoldCommand = SqliteRows.Prepare(connection,
                "UPDATE transfers SET state = $state, posted_amount = $posted WHERE id = $id",
                "$state", "$posted", "$id");
            UpdateBalancesCommand = SqliteRows.Prepare(connection,
                "UPDATE accounts SET debits_pending = $dp, debits_posted = $dpo, credits_pending = $cp, " +
                "credits_posted = $cpo WHERE id = $id",
                "$dp", "$dpo", "$cp", "$cpo", "$id");
            _writes = [InsertAccountCommand, InsertTransferCommand, UpdateHoldCommand, UpdateBalancesCommand];
        }

        public SqliteConnection Connection { get; }

        public SqliteCommand FindTransfer { get; }

        public SqliteCommand FindExpiredHolds { get; }

        private SqliteCommand InsertAccountCommand { get; }

        private SqliteCommand InsertTransferCommand { get; }

        private SqliteCommand UpdateHoldCommand { get; }

        private SqliteCommand UpdateBalancesCommand { get; }

        public void Enlist(SqliteTransaction? transaction)
        {
            foreach (var command in _writes)
            {
                command.Transaction = transaction;
            }
        }

        public void InsertAccount(int partition, LedgerAccount account)
        {
            var parameters = InsertAccountCommand.Parameters;
            parameters[0].Value = SqliteRows.IdBytes(account.Id);
            parameters[1].Value = partition;
            parameters[2].Value = account.Currency;
            parameters[3].Value = (long)account.Flags;
            parameters[4].Value = account.OverdraftLimit;
            parameters[5].Value = (long)account.Code;
            parameters[6].Value = account.CreatedAtUnixMs;
            InsertAccountCommand.ExecuteNonQuery();
        }

        public void InsertTransfer(int partition, LedgerTransfer transfer)
        {
            var parameters = InsertTransferCommand.Parameters;
            parameters[0].Value = transfer.Sequence;
            parameters[1].Value = SqliteRows.IdBytes(transfer.Id);
            parameters[2].Value = partition;
            parameters[3].Value = SqliteRows.IdBytes(transfer.DebitAccountId);
            parameters[4].Value = SqliteRows.IdBytes(transfer.CreditAccountId);
            parameters[5].Value = transfer.Amount;
            parameters[6].Value = transfer.Currency;
            parameters[7].Value = transfer.PendingId == UInt128.Zero ? DBNull.Value : SqliteRows.IdBytes(transfer.PendingId);
            parameters[8].Value = (long)transfer.Flags;
            parameters[9].Value = (long)transfer.TimeoutSeconds;
            parameters[10].Value = (long)transfer.Code;
            parameters[11].Value = (object?)MetadataJson.Serialize(transfer.Metadata) ?? DBNull.Value;
            parameters[12].Value = transfer.TimestampUnixMs;
            parameters[13].Value = (long)transfer.State;
            parameters[14].Value = transfer.PostedAmount;
            parameters[15].Value = transfer.ExpiresAtUnixMs;
            InsertTransferCommand.ExecuteNonQuery();
        }

        public void UpdateHold(LedgerTransfer hold)
        {
            var parameters = UpdateHoldCommand.Parameters;
            parameters[0].Value = (long)hold.State;
            parameters[1].Value = hold.PostedAmount;
            parameters[2].Value = SqliteRows.IdBytes(hold.Id);
            ExpectOneRow(UpdateHoldCommand.ExecuteNonQuery(), "hold", hold.Id);
        }

        public void UpdateBalances(LedgerAccount account)
        {
            var parameters = UpdateBalancesCommand.Parameters;
            parameters[0].Value = account.DebitsPending;
            parameters[1].Value = account.DebitsPosted;
            parameters[2].Value = account.CreditsPending;
            parameters[3].Value = account.CreditsPosted;
            parameters[4].Value = SqliteRows.IdBytes(account.Id);
            ExpectOneRow(UpdateBalancesCommand.ExecuteNonQuery(), "account", account.Id);
        }

        public void Dispose()
        {
            foreach (var command in _writes)
            {
                command.Dispose();
            }
            FindTransfer.Dispose();
            FindExpiredHolds.Dispose();
            Connection.Dispose();
        }

        private static void ExpectOneRow(int changed, string what, UInt128 id)
        {
            if (changed != 1)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Updating {what} {id:x32} changed {changed} rows, not 1: the store and the writer disagree."));
            }
        }
    }

    /// <summary>A pooled read connection with its prepared lookups.</summary>
    private sealed class ReaderConnection(SqliteConnection connection) : IDisposable
    {
        public SqliteCommand GetAccount { get; } = SqliteRows.Prepare(connection,
            $"SELECT {SqliteLedgerSchema.AccountColumns} FROM accounts WHERE id = $id", "$id");

        public SqliteCommand GetTransfer { get; } = SqliteRows.Prepare(connection,
            $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE id = $id", "$id");

        // Each arm is an index scan in sequence order; SQLite merges them (MERGE UNION ALL) and
        // stops as soon as the limit is reached or the caller stops stepping.
        public SqliteCommand ListAccountTransfers { get; } = SqliteRows.Prepare(connection,
            $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE debit_account_id = $account AND sequence < $before " +
            $"UNION ALL SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE credit_account_id = $account AND sequence < $before " +
            "ORDER BY sequence DESC LIMIT $limit",
            "$account", "$before", "$limit");

        public void Dispose()
        {
            GetAccount.Dispose();
            GetTransfer.Dispose();
            ListAccountTransfers.Dispose();
            connection.Dispose();
        }
    }
}
