using System.Collections.Concurrent;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using SQLitePCL;

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
    private FileStream? _writerLock;
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
        _writerLock = TakeWriterLock(_database.Path);
        CreateWithLargePages(_database.Path);
        SqliteConnection connection;
        try
        {
            connection = _database.Open();
        }
        catch
        {
            ReleaseWriterLock();
            throw;
        }
        try
        {
            SqliteMigrator.Apply(connection, SqliteLedgerSchema.StoreName, SqliteLedgerSchema.Migrations);
            CheckPartitionCount(connection, partitionCount);
            TuneWriter(connection);
            _writer = new WriterConnection(connection) { PartitionCount = partitionCount };
        }
        catch
        {
            connection.Dispose();
            ReleaseWriterLock();
            throw;
        }
    }

    /// <summary>
    /// The one-writer rule across processes: a store's writer keeps its balances in memory, so a
    /// second process writing the same file (a second <c>serve --cell a</c> on the same data, a
    /// restarted instance while the old one still runs) would write over the first one's balances
    /// and lose or create money. The writer holds an exclusive lock on <c>PATH.lock</c> (an OS file
    /// lock: the kernel drops it when the process dies, however it dies) and writes its PID in
    /// <c>PATH.pid</c> for the message the next one gets. Readers (checks, backups) do not take it.
    /// </summary>
    private static FileStream TakeWriterLock(string databasePath)
    {
        var lockPath = databasePath + ".lock";
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, options);
        }
        catch (IOException error)
        {
            string holder;
            try
            {
                holder = File.ReadAllText(databasePath + ".pid").Trim();
            }
            catch (IOException)
            {
                holder = "";
            }
            throw new InvalidOperationException(
                $"Another process is writing the ledger store {databasePath}{(holder.Length > 0 ? $" (pid {holder}, per {databasePath}.pid)" : "")}: a store has one writer. Stop that process first, or give this one a store of its own. ({error.Message})");
        }
        // The lock's holder says who it is beside it (the locked file itself cannot be read by another process).
        File.WriteAllText(databasePath + ".pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return stream;
    }

    private void ReleaseWriterLock()
    {
        _writerLock?.Dispose();
        _writerLock = null;
    }

    public IReadOnlyList<LedgerAccount> LoadAccounts()
    {
        // A reload forgets the batch being decided: end its transaction, having written nothing.
        Writer.AbandonBatch();
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
        Writer.AbandonBatch();
        using var command = Writer.Connection.CreateCommand();
        command.CommandText = "SELECT coalesce(max(sequence), 0), coalesce(max(timestamp), 0) FROM transfers";
        using var reader = command.ExecuteReader();
        reader.Read();
        return new LedgerWriterPosition(reader.GetInt64(0), reader.GetInt64(1));
    }

    public LedgerCellRecord? LoadCell()
    {
        Writer.AbandonBatch();
        var connection = Writer.Connection;
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT key, value FROM cell_identity";
        string? cell = null;
        var clusterId = "";
        using (var reader = command.ExecuteReader())
        {
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
        }
        if (cell is null)
        {
            return null;
        }
        command.CommandText = "SELECT partition, epoch, state, owner_cell, owner_epoch, lease_until FROM partition_owners ORDER BY partition";
        var rows = new List<Cells.PartitionOwnership>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                rows.Add(new Cells.PartitionOwnership((int)reader.GetInt64(0), reader.GetInt64(1), (Cells.OwnershipState)reader.GetInt64(2),
                    reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5)));
            }
        }
        command.CommandText = "SELECT partition, source_cell, source_epoch, watermark, state, digest, event_sequence FROM partition_imports ORDER BY partition";
        var imports = new List<PartitionImportRecord>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                imports.Add(new PartitionImportRecord((int)reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3),
                    (ImportRecordState)reader.GetInt64(4), reader.IsDBNull(5) ? [] : (byte[])reader.GetValue(5), reader.GetInt64(6)));
            }
        }
        return new LedgerCellRecord(cell, clusterId, rows) { Imports = imports };
    }

    public IReadOnlyList<LedgerAccount> LoadAccounts(int partition)
    {
        Writer.AbandonBatch();
        using var command = Writer.Connection.CreateCommand();
        command.CommandText = $"SELECT {SqliteLedgerSchema.AccountColumns} FROM accounts WHERE partition = $partition";
        command.Parameters.AddWithValue("$partition", partition);
        using var reader = command.ExecuteReader();
        var accounts = new List<LedgerAccount>();
        while (reader.Read())
        {
            accounts.Add(SqliteRows.ReadAccount(reader));
        }
        return accounts;
    }

    public void SaveMoveStep(MoveStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var writer = Writer;
        writer.AbandonBatch();
        using var transaction = writer.Connection.BeginTransaction();
        using var command = writer.Connection.CreateCommand();
        command.Transaction = transaction;
        if (step.Owner is { } owner)
        {
            command.CommandText =
                "INSERT OR REPLACE INTO partition_owners (partition, epoch, state, owner_cell, owner_epoch, lease_until) VALUES ($p, $epoch, $state, $owner, $ownerEpoch, $lease)";
            command.Parameters.AddWithValue("$p", owner.Partition);
            command.Parameters.AddWithValue("$epoch", owner.Epoch);
            command.Parameters.AddWithValue("$state", (long)owner.State);
            command.Parameters.AddWithValue("$owner", owner.OwnerCell ?? "");
            command.Parameters.AddWithValue("$ownerEpoch", owner.OwnerEpoch);
            command.Parameters.AddWithValue("$lease", owner.LeaseUntilUnixMs);
            command.ExecuteNonQuery();
            command.Parameters.Clear();
        }
        if (step.Import is { } import)
        {
            WriteImport(command, import);
        }
        if (step.DeleteImport >= 0)
        {
            command.CommandText = "DELETE FROM partition_imports WHERE partition = $p";
            command.Parameters.AddWithValue("$p", step.DeleteImport);
            command.ExecuteNonQuery();
            command.Parameters.Clear();
        }
        if (step.Event is { } outboxEvent)
        {
            command.CommandText =
                "INSERT INTO ledger_outbox (cell_sequence, partition, partition_sequence, kind, committed_at, payload) VALUES ($cell, $p, $sequence, $kind, $at, $payload)";
            command.Parameters.AddWithValue("$cell", outboxEvent.CellSequence);
            command.Parameters.AddWithValue("$p", outboxEvent.Partition);
            command.Parameters.AddWithValue("$sequence", outboxEvent.PartitionSequence);
            command.Parameters.AddWithValue("$kind", outboxEvent.Kind);
            command.Parameters.AddWithValue("$at", outboxEvent.CommittedAtUnixMs);
            command.Parameters.AddWithValue("$payload", outboxEvent.Payload.ToArray());
            command.ExecuteNonQuery();
            command.Parameters.Clear();
        }
        transaction.Commit();
    }

    private static void WriteImport(SqliteCommand command, PartitionImportRecord import)
    {
        command.CommandText =
            "INSERT OR REPLACE INTO partition_imports (partition, source_cell, source_epoch, watermark, state, digest, event_sequence) VALUES ($p, $source, $epoch, $watermark, $state, $digest, $events)";
        command.Parameters.AddWithValue("$p", import.Partition);
        command.Parameters.AddWithValue("$source", import.SourceCell);
        command.Parameters.AddWithValue("$epoch", import.SourceEpoch);
        command.Parameters.AddWithValue("$watermark", import.Watermark);
        command.Parameters.AddWithValue("$state", (long)import.State);
        command.Parameters.AddWithValue("$digest", import.Digest.Length == 0 ? DBNull.Value : import.Digest);
        command.Parameters.AddWithValue("$events", import.EventSequence);
        command.ExecuteNonQuery();
        command.Parameters.Clear();
    }

    public void ImportPartitionRows(int partition, PartitionRowSet rows, PartitionImportRecord progress)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(progress);
        var writer = Writer;
        writer.AbandonBatch();
        writer.BeginBatch();
        try
        {
            using var command = writer.Connection.CreateCommand();
            command.CommandText =
                "INSERT OR REPLACE INTO accounts (id, partition, currency, flags, overdraft_limit, code, debits_pending, debits_posted, credits_pending, credits_posted, created_at) " +
                "VALUES ($id, $p, $currency, $flags, $limit, $code, $dpend, $dpost, $cpend, $cpost, $created)";
            foreach (var account in rows.Accounts)
            {
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$id", SqliteRows.IdBytes(account.Id));
                command.Parameters.AddWithValue("$p", partition);
                command.Parameters.AddWithValue("$currency", account.Currency);
                command.Parameters.AddWithValue("$flags", (long)account.Flags);
                command.Parameters.AddWithValue("$limit", account.OverdraftLimit);
                command.Parameters.AddWithValue("$code", (long)account.Code);
                command.Parameters.AddWithValue("$dpend", account.DebitsPending);
                command.Parameters.AddWithValue("$dpost", account.DebitsPosted);
                command.Parameters.AddWithValue("$cpend", account.CreditsPending);
                command.Parameters.AddWithValue("$cpost", account.CreditsPosted);
                command.Parameters.AddWithValue("$created", account.CreatedAtUnixMs);
                command.ExecuteNonQuery();
            }
            foreach (var transfer in rows.Transfers)
            {
                writer.InsertTransfer(partition, transfer);
            }
            command.CommandText = "UPDATE transfers SET state = $state, posted_amount = $posted, expires_at = $expires WHERE id = $id AND leg = $leg";
            foreach (var refreshed in rows.Refreshed)
            {
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$state", (long)refreshed.State);
                command.Parameters.AddWithValue("$posted", refreshed.PostedAmount);
                command.Parameters.AddWithValue("$expires", refreshed.ExpiresAtUnixMs);
                command.Parameters.AddWithValue("$id", SqliteRows.IdBytes(refreshed.Id));
                command.Parameters.AddWithValue("$leg", (long)refreshed.Leg);
                if (command.ExecuteNonQuery() != 1)
                {
                    throw new InvalidOperationException($"The copy of partition {partition} has no row {refreshed.Id:x32} (leg {refreshed.Leg}) to refresh: start the import again.");
                }
            }
            command.CommandText =
                "INSERT OR REPLACE INTO credit_legs_owed (id, partition, credit_partition, debit_account_id, credit_account_id, amount, currency, code, metadata, created_at, state) " +
                "VALUES ($id, $p, $cp, $debit, $credit, $amount, $currency, $code, $metadata, $created, $state)";
            foreach (var owed in rows.OwedLegs)
            {
                var leg = owed.Leg;
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$id", SqliteRows.IdBytes(leg.Id));
                command.Parameters.AddWithValue("$p", owed.Partition);
                command.Parameters.AddWithValue("$cp", leg.PartitionOf(writer.PartitionCount));
                command.Parameters.AddWithValue("$debit", SqliteRows.IdBytes(leg.DebitAccountId));
                command.Parameters.AddWithValue("$credit", SqliteRows.IdBytes(leg.CreditAccountId));
                command.Parameters.AddWithValue("$amount", leg.Amount);
                command.Parameters.AddWithValue("$currency", leg.Currency);
                command.Parameters.AddWithValue("$code", (long)leg.Code);
                command.Parameters.AddWithValue("$metadata", (object?)MetadataJson.Serialize(leg.Metadata) ?? DBNull.Value);
                command.Parameters.AddWithValue("$created", leg.TimestampUnixMs);
                command.Parameters.AddWithValue("$state", (long)owed.State);
                command.ExecuteNonQuery();
            }
            command.Parameters.Clear();
            WriteImport(command, progress);
            writer.CommitBatch();
        }
        catch
        {
            writer.AbandonBatch();
            throw;
        }
    }

    // The rows of a partition, found through its accounts: as debit account the WHOLE, DEBIT and
    // RETURN rows, as credit account the CREDIT rows (the partition column settles the rest).
    private static string PartitionTransfers(string extra) =>
        $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE debit_account_id IN (SELECT id FROM accounts WHERE partition = $p) AND partition = $p AND leg <> 2{extra} " +
        $"UNION ALL SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE credit_account_id IN (SELECT id FROM accounts WHERE partition = $p) AND partition = $p AND leg = 2{extra}";

    public PartitionDigestValue DigestPartition(int partition, Cells.PartitionDigestPrefix? prefix = null)
    {
        if (prefix is not null && prefix.Partition != partition)
        {
            throw new ArgumentException($"The prefix is of partition {prefix.Partition}, not {partition}.", nameof(prefix));
        }
        var writer = Writer;
        writer.AbandonBatch();
        using var transaction = writer.Connection.BeginTransaction(deferred: true);
        return Digest(writer.Connection, transaction, partition, prefix);
    }

    public Task<Cells.PartitionDigestPrefix> DigestSettledAsync(int partition, CancellationToken cancellationToken) =>
        Task.FromResult(Read(reader =>
        {
            // One snapshot (WAL): every row at or below the highest sequence seen is in it.
            using var transaction = reader.Connection.BeginTransaction(deferred: true);
            using var command = reader.Connection.CreateCommand();
            command.Transaction = transaction;
            command.Parameters.AddWithValue("$p", partition);
            command.CommandText = PartitionTransfers("");
            var digest = new Cells.PartitionDigestBuilder();
            var pending = new List<(UInt128, TransferLeg)>();
            long through = 0;
            using (var rows = command.ExecuteReader())
            {
                while (rows.Read())
                {
                    var row = SqliteRows.ReadTransfer(rows);
                    through = Math.Max(through, row.Sequence);
                    if (Cells.PartitionDigestBuilder.IsSettled(row))
                    {
                        digest.AddTransfer(row);
                    }
                    else
                    {
                        pending.Add((row.Id, row.Leg));
                    }
                }
            }
            var open = new List<UInt128>();
            var settled = new HashSet<UInt128>();
            command.CommandText = $"SELECT {SqliteLedgerSchema.OwedLegColumns} FROM credit_legs_owed WHERE partition = $p";
            using (var rows = command.ExecuteReader())
            {
                while (rows.Read())
                {
                    var owed = SqliteRows.ReadOwedLeg(rows);
                    if (Cells.PartitionDigestBuilder.IsSettled(owed))
                    {
                        digest.AddOwedLeg(owed);
                        settled.Add(owed.Leg.Id);
                    }
                    else
                    {
                        open.Add(owed.Leg.Id);
                    }
                }
            }
            return digest.Prefix(partition, through, pending, open, settled);
        }));

    private static PartitionDigestValue Digest(SqliteConnection connection, SqliteTransaction transaction, int partition, Cells.PartitionDigestPrefix? prefix)
    {
        var digest = prefix is null ? new Cells.PartitionDigestBuilder() : Cells.PartitionDigestBuilder.From(prefix);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$p", partition);
        command.CommandText = $"SELECT {SqliteLedgerSchema.AccountColumns} FROM accounts WHERE partition = $p";
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                digest.AddAccount(SqliteRows.ReadAccount(reader));
            }
        }
        command.CommandText = PartitionTransfers(prefix is null ? "" : " AND sequence > $through");
        command.Parameters.AddWithValue("$through", prefix?.ThroughSequence ?? 0);
        var newDebitLegs = new List<UInt128>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var row = SqliteRows.ReadTransfer(reader);
                digest.AddTransfer(row);
                if (row.Leg == TransferLeg.Debit)
                {
                    newDebitLegs.Add(row.Id);
                }
            }
        }
        if (prefix is null)
        {
            command.CommandText = $"SELECT {SqliteLedgerSchema.OwedLegColumns} FROM credit_legs_owed WHERE partition = $p";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                digest.AddOwedLeg(SqliteRows.ReadOwedLeg(reader));
            }
            return digest.Finish();
        }
        var id = command.Parameters.Add("$id", SqliteType.Blob);
        // The rows that were pending when the prefix was taken, as they are now.
        command.CommandText = $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE id = $id AND leg = $leg AND partition = $p AND sequence <= $through";
        var leg = command.Parameters.Add("$leg", SqliteType.Integer);
        foreach (var (pendingId, pendingLeg) in prefix.Pending)
        {
            id.Value = SqliteRows.IdBytes(pendingId);
            leg.Value = (long)pendingLeg;
            using var reader = command.ExecuteReader();
            if (reader.Read())
            {
                digest.AddTransfer(SqliteRows.ReadTransfer(reader));
            }
        }
        command.Parameters.Remove(leg);
        // The owed legs open then, and those written since.
        command.CommandText = $"SELECT {SqliteLedgerSchema.OwedLegColumns} FROM credit_legs_owed WHERE id = $id AND partition = $p";
        foreach (var owedId in prefix.OwedLegsToRead(newDebitLegs))
        {
            id.Value = SqliteRows.IdBytes(owedId);
            using var reader = command.ExecuteReader();
            if (reader.Read())
            {
                digest.AddOwedLeg(SqliteRows.ReadOwedLeg(reader));
            }
        }
        return digest.Finish();
    }

    public long ForeignWriteMark()
    {
        // data_version changes when another connection (this process's or another's) commits to the
        // file, never for the writer's own commits, and costs no I/O.
        using var command = Writer.Connection.CreateCommand();
        command.CommandText = "PRAGMA data_version";
        return (long)command.ExecuteScalar()!;
    }

    public int DeletePartitionRows(int partition, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var writer = Writer;
        writer.AbandonBatch();
        using var transaction = writer.Connection.BeginTransaction();
        using var command = writer.Connection.CreateCommand();
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$p", partition);
        command.Parameters.AddWithValue("$limit", limit);
        // Transfers first: they are found through the accounts, which go last.
        command.CommandText = $"DELETE FROM transfers WHERE sequence IN (SELECT sequence FROM ({PartitionTransfers("")}) LIMIT $limit)";
        var deleted = command.ExecuteNonQuery();
        if (deleted < limit)
        {
            command.Parameters["$limit"].Value = limit - deleted;
            command.CommandText = "DELETE FROM credit_legs_owed WHERE id IN (SELECT id FROM credit_legs_owed WHERE partition = $p LIMIT $limit)";
            deleted += command.ExecuteNonQuery();
        }
        if (deleted < limit)
        {
            command.Parameters["$limit"].Value = limit - deleted;
            command.CommandText = "DELETE FROM accounts WHERE id IN (SELECT id FROM accounts WHERE partition = $p LIMIT $limit)";
            deleted += command.ExecuteNonQuery();
        }
        transaction.Commit();
        return deleted;
    }

    public Task<PartitionRowSet> ExportPartitionAsync(int partition, long afterSequence, int limit,
        IReadOnlyCollection<UInt128> refreshHolds, IReadOnlyCollection<UInt128> refreshOwedLegs, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentNullException.ThrowIfNull(refreshHolds);
        ArgumentNullException.ThrowIfNull(refreshOwedLegs);
        return Task.FromResult(Read(reader =>
        {
            // One snapshot (WAL): the accounts' balances agree with the rows read beside them.
            using var transaction = reader.Connection.BeginTransaction(deferred: true);
            using var command = reader.Connection.CreateCommand();
            command.Transaction = transaction;
            command.Parameters.AddWithValue("$p", partition);
            command.CommandText = $"SELECT {SqliteLedgerSchema.AccountColumns} FROM accounts WHERE partition = $p";
            var accounts = new List<LedgerAccount>();
            using (var rows = command.ExecuteReader())
            {
                while (rows.Read())
                {
                    accounts.Add(SqliteRows.ReadAccount(rows));
                }
            }
            var transfers = NextTransfers(reader.Connection, transaction, partition, accounts, afterSequence, limit + 1);
            var more = transfers.Count > limit;
            if (more)
            {
                transfers.RemoveAt(transfers.Count - 1);
            }
            command.Parameters.Clear();
            command.Parameters.AddWithValue("$p", partition);
            var id = command.Parameters.Add("$id", SqliteType.Blob);
            command.CommandText = $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE id = $id AND leg <= 1 AND partition = $p";
            var refreshed = new List<LedgerTransfer>();
            foreach (var hold in refreshHolds)
            {
                id.Value = SqliteRows.IdBytes(hold);
                using var rows = command.ExecuteReader();
                if (rows.Read())
                {
                    refreshed.Add(SqliteRows.ReadTransfer(rows));
                }
            }
            var owed = new Dictionary<UInt128, OwedCreditLeg>();
            command.CommandText = $"SELECT {SqliteLedgerSchema.OwedLegColumns} FROM credit_legs_owed WHERE id = $id AND partition = $p";
            foreach (var legId in refreshOwedLegs.Concat(transfers.Where(row => row.Leg == TransferLeg.Debit).Select(row => row.Id)))
            {
                id.Value = SqliteRows.IdBytes(legId);
                using var rows = command.ExecuteReader();
                if (rows.Read())
                {
                    var leg = SqliteRows.ReadOwedLeg(rows);
                    owed[leg.Leg.Id] = leg;
                }
            }
            command.Parameters.Remove(id);
            command.CommandText = $"SELECT {SqliteLedgerSchema.OwedLegColumns} FROM credit_legs_owed WHERE partition = $p AND state = 0";
            using (var rows = command.ExecuteReader())
            {
                while (rows.Read())
                {
                    var leg = SqliteRows.ReadOwedLeg(rows);
                    owed[leg.Leg.Id] = leg;
                }
            }
            var watermark = transfers.Count > 0 ? transfers[^1].Sequence : afterSequence;
            return new PartitionRowSet(accounts, transfers, refreshed, owed.Values.ToArray(), watermark, more);
        }));
    }

    /// <summary>
    /// The first <paramref name="count"/> transfer rows of <paramref name="partition"/> above
    /// <paramref name="afterSequence"/>, in sequence order, found through its accounts, in two
    /// steps. First the chunk's last sequence: each account has a cursor over the sequences of its
    /// debit rows (WHOLE, DEBIT, RETURN) — a seek into <c>transfers_debit</c>, whose entries end in
    /// the rowid (the sequence), so "this account above a sequence, in order" is an index range —
    /// read a page at a time and merged until <paramref name="count"/>; then the same for its credit
    /// legs through <c>transfers_credit</c>, but only up to the last of those (an account's credit
    /// entries are mostly WHOLE rows, found already as another account's debit; an unbounded range
    /// would skip all of them above the watermark for every chunk). Then the rows up to that
    /// sequence, in one statement that reads only that window of each account's ranges. A chunk so
    /// costs a seek per account and about <paramref name="count"/> rows read wherever it is in the
    /// partition's history; sorting every row above the watermark for every chunk made a first copy
    /// cost about rows² / chunk reads. No index on transfers by partition is needed, so the writer's
    /// cost per transfer is unchanged.
    /// </summary>
    private static List<LedgerTransfer> NextTransfers(SqliteConnection connection, SqliteTransaction transaction, int partition,
        IReadOnlyList<LedgerAccount> accounts, long afterSequence, int count)
    {
        long upper;
        using (var debits = AccountRange(connection, transaction, partition, "debit_account_id", "leg <> 2"))
        using (var credits = AccountRange(connection, transaction, partition, "credit_account_id", "leg = 2"))
        {
            var debitSequences = Merge(debits, accounts, afterSequence, long.MaxValue, count);
            var debitUpper = debitSequences.Count == count ? debitSequences[^1] : long.MaxValue;
            var creditSequences = Merge(credits, accounts, afterSequence, debitUpper, count);
            var both = debitSequences.Concat(creditSequences).Order().Take(count).ToList();
            upper = both.Count == count ? both[^1] : long.MaxValue;
        }
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT * FROM ({PartitionTransfers(" AND sequence > $after AND sequence <= $upper")}) ORDER BY sequence LIMIT $limit";
        command.Parameters.AddWithValue("$p", partition);
        command.Parameters.AddWithValue("$after", afterSequence);
        command.Parameters.AddWithValue("$upper", upper);
        command.Parameters.AddWithValue("$limit", count);
        var transfers = new List<LedgerTransfer>(Math.Min(count, 1_024));
        using var rows = command.ExecuteReader();
        while (rows.Read())
        {
            transfers.Add(SqliteRows.ReadTransfer(rows));
        }
        return transfers;
    }

    /// <summary>Sequences a cursor of <see cref="Merge"/> reads at least per query.</summary>
    private const int ExportPageRowsMin = 16;

    /// <summary>The first <paramref name="count"/> sequences in (<paramref name="after"/>, <paramref name="upper"/>] of every account's range of <paramref name="range"/>, merged in order.</summary>
    private static List<long> Merge(SqliteCommand range, IReadOnlyList<LedgerAccount> accounts, long after, long upper, int count)
    {
        // The first pages together are about one chunk; a cursor read to its page's end asks for
        // twice as many the next time (never more than the chunk still needs), so one busy account
        // (a transit account) takes few queries.
        var firstPage = Math.Min(count, Math.Max(ExportPageRowsMin, count / Math.Max(1, accounts.Count)));
        range.Parameters["$upper"].Value = upper;
        var heads = new PriorityQueue<AccountCursor, long>();
        foreach (var account in accounts)
        {
            var cursor = new AccountCursor(range, SqliteRows.IdBytes(account.Id), firstPage);
            if (cursor.Fill(after, count))
            {
                heads.Enqueue(cursor, cursor.Head);
            }
        }
        var sequences = new List<long>(Math.Min(count, 1_024));
        while (sequences.Count < count && heads.TryDequeue(out var cursor, out _))
        {
            var sequence = cursor.Take();
            sequences.Add(sequence);
            if (cursor.Available || (sequences.Count < count && cursor.Fill(sequence, count - sequences.Count)))
            {
                heads.Enqueue(cursor, cursor.Head);
            }
        }
        return sequences;
    }

    private static SqliteCommand AccountRange(SqliteConnection connection, SqliteTransaction transaction, int partition, string accountColumn, string leg)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT sequence FROM transfers " +
            $"WHERE {accountColumn} = $account AND sequence > $after AND sequence <= $upper AND partition = $p AND {leg} ORDER BY sequence LIMIT $limit";
        command.Parameters.AddWithValue("$p", partition);
        command.Parameters.Add("$account", SqliteType.Blob);
        command.Parameters.Add("$after", SqliteType.Integer);
        command.Parameters.Add("$upper", SqliteType.Integer);
        command.Parameters.Add("$limit", SqliteType.Integer);
        return command;
    }

    /// <summary>The sequences of one account's rows of one kind above a sequence, a page at a time, for <see cref="Merge"/>.</summary>
    private sealed class AccountCursor(SqliteCommand command, byte[] account, int page)
    {
        /// <summary>A page never exceeds one export chunk.</summary>
        private const int PageRowsMax = LedgerLimits.MoveRowsPerChunk;

        private readonly Queue<long> _sequences = new();
        private int _page = page;
        private bool _ended;

        public bool Available => _sequences.Count > 0;

        public long Head => _sequences.Peek();

        public long Take() => _sequences.Dequeue();

        /// <summary>Reads the next page above <paramref name="afterSequence"/>, at most <paramref name="needed"/>; false when the account has no more.</summary>
        public bool Fill(long afterSequence, int needed)
        {
            if (_ended)
            {
                return false;
            }
            var limit = Math.Min(_page, needed);
            command.Parameters["$account"].Value = account;
            command.Parameters["$after"].Value = afterSequence;
            command.Parameters["$limit"].Value = limit;
            var read = 0;
            using (var rows = command.ExecuteReader())
            {
                while (rows.Read())
                {
                    _sequences.Enqueue(rows.GetInt64(0));
                    read++;
                }
            }
            _ended = read < limit;
            _page = Math.Min(_page * 2, PageRowsMax);
            return read > 0;
        }
    }

    public Task<(IReadOnlyList<UInt128> PendingHolds, IReadOnlyList<UInt128> OpenOwedLegs)> GetOpenIdsAsync(int partition, CancellationToken cancellationToken) =>
        Task.FromResult(Read(reader =>
        {
            using var transaction = reader.Connection.BeginTransaction(deferred: true);
            using var command = reader.Connection.CreateCommand();
            command.Transaction = transaction;
            command.Parameters.AddWithValue("$p", partition);
            command.CommandText = "SELECT id FROM transfers INDEXED BY transfers_pending WHERE partition = $p AND state = 2 AND leg <= 1 AND debit_account_id IN (SELECT id FROM accounts WHERE partition = $p)";
            var holds = new List<UInt128>();
            using (var rows = command.ExecuteReader())
            {
                while (rows.Read())
                {
                    holds.Add(SqliteRows.ReadId(rows, 0));
                }
            }
            command.CommandText = "SELECT id FROM credit_legs_owed WHERE partition = $p AND state = 0";
            var owed = new List<UInt128>();
            using (var rows = command.ExecuteReader())
            {
                while (rows.Read())
                {
                    owed.Add(SqliteRows.ReadId(rows, 0));
                }
            }
            return ((IReadOnlyList<UInt128>)holds, (IReadOnlyList<UInt128>)owed);
        }));

    public Task<UInt128?> FindRowAcrossPartitionsAsync(int partition, CancellationToken cancellationToken) =>
        Task.FromResult(Read(reader =>
        {
            using var command = reader.Connection.CreateCommand();
            command.Parameters.AddWithValue("$p", partition);
            // Through the partition's accounts, each side by its index; leg 0 is WHOLE.
            command.CommandText =
                "SELECT t.id FROM accounts a JOIN transfers t ON t.debit_account_id = a.id JOIN accounts o ON o.id = t.credit_account_id WHERE a.partition = $p AND t.leg = 0 AND o.partition <> $p " +
                "UNION ALL SELECT t.id FROM accounts a JOIN transfers t ON t.credit_account_id = a.id JOIN accounts o ON o.id = t.debit_account_id WHERE a.partition = $p AND t.leg = 0 AND o.partition <> $p LIMIT 1";
            using var rows = command.ExecuteReader();
            return rows.Read() ? SqliteRows.ReadId(rows, 0) : (UInt128?)null;
        }));

    public void InitialiseCell(string cell, string clusterId, IReadOnlyList<int> owned)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cell);
        ArgumentNullException.ThrowIfNull(owned);
        var writer = Writer;
        writer.AbandonBatch();
        using var transaction = writer.Connection.BeginTransaction();
        using var command = writer.Connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT count(*) FROM cell_identity";
        if (Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) != 0)
        {
            throw new InvalidOperationException("The ledger store already belongs to a cell.");
        }
        var ownedSet = owned.ToHashSet();
        if (ownedSet.Count != owned.Count || owned.Any(partition => partition < 0 || partition >= Writer.PartitionCount))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"A cell owns distinct partitions 0 to {Writer.PartitionCount - 1}; refusing to record the {owned.Count} given."), nameof(owned));
        }
        command.CommandText = "SELECT DISTINCT partition FROM accounts";
        var foreign = new List<long>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (!ownedSet.Contains((int)reader.GetInt64(0)))
                {
                    foreign.Add(reader.GetInt64(0));
                }
            }
        }
        if (foreign.Count > 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The ledger store holds accounts of {foreign.Count} partitions (e.g. {foreign[0]}) that cell '{cell}' would not own; refusing to hide their data. Give this cell every partition its store holds."));
        }
        command.CommandText = "INSERT INTO cell_identity (key, value) VALUES ('cell', $cell), ('cluster_id', $cluster)";
        command.Parameters.AddWithValue("$cell", cell);
        command.Parameters.AddWithValue("$cluster", clusterId ?? "");
        command.ExecuteNonQuery();
        command.Parameters.Clear();
        command.CommandText = "INSERT INTO partition_owners (partition, epoch, state) VALUES ($partition, 1, 1)";
        var partition = command.Parameters.Add("$partition", SqliteType.Integer);
        foreach (var value in owned)
        {
            partition.Value = value;
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public LedgerTransfer? FindTransfer(UInt128 id)
    {
        var writer = Writer;
        writer.BeginBatch();
        return writer.FindTransfer(id);
    }

    public LedgerTransfer? FindLeg(UInt128 id, TransferLeg leg)
    {
        var writer = Writer;
        writer.BeginBatch();
        return writer.FindLeg(id, leg);
    }

    public IReadOnlyList<LedgerTransfer> FindExpiredHolds(long nowUnixMs, int limit, IReadOnlyCollection<int> notServed)
    {
        ArgumentNullException.ThrowIfNull(notServed);
        var writer = Writer;
        writer.BeginBatch();
        var command = writer.FindExpiredHolds;
        if (notServed.Count > 0)
        {
            // Copies of partitions this cell does not serve are not its to expire.
            using var filtered = writer.Connection.CreateCommand();
            filtered.CommandText = $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers " +
                "WHERE state = 2 AND expires_at > 0 AND expires_at <= $now AND partition NOT IN (" +
                string.Join(',', notServed.Select(partition => partition.ToString(CultureInfo.InvariantCulture))) + ") ORDER BY expires_at LIMIT $limit";
            filtered.Parameters.AddWithValue("$now", nowUnixMs);
            filtered.Parameters.AddWithValue("$limit", limit);
            using var rows = filtered.ExecuteReader();
            var found = new List<LedgerTransfer>();
            while (rows.Read())
            {
                found.Add(SqliteRows.ReadTransfer(rows));
            }
            return found;
        }
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
        if (commit.IsEmpty && !writer.InBatch)
        {
            return;
        }
        writer.BeginBatch();
        try
        {
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
            foreach (var owed in commit.NewOwedLegs)
            {
                writer.InsertOwedLeg(owed);
            }
            foreach (var (id, state) in commit.SettledOwedLegs)
            {
                writer.SettleOwedLeg(id, state);
            }
            foreach (var outboxEvent in commit.Events)
            {
                writer.InsertOutboxEvent(outboxEvent);
            }
            if (commit.OutboxWatermark != 0)
            {
                writer.RecordOutboxWatermark(commit.OutboxWatermark);
            }
            if (commit.ProbeAtUnixMs != 0)
            {
                writer.WriteProbe(commit.ProbeAtUnixMs);
            }
            writer.CommitBatch();
        }
        catch
        {
            writer.AbandonBatch();
            throw;
        }
    }

    public LedgerOutboxPosition LoadOutboxPosition()
    {
        Writer.AbandonBatch();
        using var command = Writer.Connection.CreateCommand();
        command.CommandText =
            "SELECT partition, max(partition_sequence), max(cell_sequence) FROM ledger_outbox GROUP BY partition;" +
            "SELECT coalesce((SELECT value FROM ledger_meta WHERE key = 'outbox_watermark'), 0)";
        using var reader = command.ExecuteReader();
        var partitions = new Dictionary<int, long>();
        long cellSequence = 0;
        while (reader.Read())
        {
            partitions[reader.GetInt32(0)] = reader.GetInt64(1);
            cellSequence = Math.Max(cellSequence, reader.GetInt64(2));
        }
        reader.NextResult();
        reader.Read();
        var watermark = reader.GetInt64(0);
        return new LedgerOutboxPosition(cellSequence, watermark, partitions);
    }

    public Task<IReadOnlyList<LedgerOutboxEvent>> ReadOutboxAsync(long afterCellSequence, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return Task.FromResult(Read(reader =>
        {
            using var command = reader.Connection.CreateCommand();
            command.CommandText = "SELECT cell_sequence, partition, partition_sequence, kind, committed_at, payload FROM ledger_outbox " +
                "WHERE cell_sequence > $after ORDER BY cell_sequence LIMIT $limit";
            command.Parameters.AddWithValue("$after", afterCellSequence);
            command.Parameters.AddWithValue("$limit", limit);
            var events = new List<LedgerOutboxEvent>();
            using var rows = command.ExecuteReader();
            while (rows.Read())
            {
                events.Add(new LedgerOutboxEvent(rows.GetInt64(0), rows.GetInt32(1), rows.GetInt64(2), rows.GetInt32(3),
                    (byte[])rows.GetValue(5), rows.GetInt64(4)));
            }
            return (IReadOnlyList<LedgerOutboxEvent>)events;
        }));
    }

    public Task<IReadOnlyList<LedgerAccount>> GetAccountsAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Task.FromResult(Read(reader => ReadSnapshot(reader, reader.GetAccount, ids, SqliteRows.ReadAccount, cancellationToken)));
    }

    public Task<IReadOnlyList<LedgerTransfer>> GetTransfersAsync(IReadOnlyList<UInt128> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Task.FromResult(Read(reader => ReadSnapshot(reader, reader.GetTransfer, ids, SqliteRows.ReadTransfer, cancellationToken)));
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

    public Task<IReadOnlyList<OwedCreditLeg>> GetOwedCreditLegsAsync(int limit, IReadOnlyCollection<int> notServed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentNullException.ThrowIfNull(notServed);
        return Task.FromResult(Read(reader =>
        {
            using var filtered = notServed.Count == 0 ? null : reader.Connection.CreateCommand();
            var command = reader.OwedCreditLegs;
            if (filtered is not null)
            {
                // Legs of copies this cell does not serve are not its to deliver (nor to stall the others).
                filtered.CommandText = $"SELECT {SqliteLedgerSchema.OwedLegColumns} FROM credit_legs_owed WHERE state = 0 AND partition NOT IN (" +
                    string.Join(',', notServed.Select(partition => partition.ToString(CultureInfo.InvariantCulture))) + ") ORDER BY created_at LIMIT $limit";
                filtered.Parameters.AddWithValue("$limit", limit);
                command = filtered;
            }
            else
            {
                command.Parameters[0].Value = limit;
            }
            var legs = new List<OwedCreditLeg>();
            using var rows = command.ExecuteReader();
            while (rows.Read())
            {
                legs.Add(SqliteRows.ReadOwedLeg(rows));
            }
            return (IReadOnlyList<OwedCreditLeg>)legs;
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
        ReleaseWriterLock();
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

    /// <summary>
    /// Looks up every id with <paramref name="lookup"/> inside ONE deferred read transaction. Each
    /// lookup is its own statement, and without the transaction each would see the latest commit:
    /// a batch committed between two ids (a transfer from one to the other) would show its debit
    /// and not its credit, a state that was never committed. Under WAL the transaction's first
    /// SELECT fixes a snapshot that every later one reads, and the writer is never blocked by it.
    /// </summary>
    private static IReadOnlyList<T> ReadSnapshot<T>(ReaderConnection reader, SqliteCommand lookup, IReadOnlyList<UInt128> ids,
        Func<SqliteDataReader, T> map, CancellationToken cancellationToken)
    {
        var found = new List<T>(ids.Count);
        if (ids.Count == 0)
        {
            return found;
        }
        // One id is one statement, atomic by itself: no BEGIN/COMMIT round on the hot single-id path.
        using var snapshot = ids.Count > 1 ? reader.Connection.BeginTransaction(deferred: true) : null;
        lookup.Transaction = snapshot;
        try
        {
            foreach (var id in ids)
            {
                cancellationToken.ThrowIfCancellationRequested();
                lookup.Parameters[0].Value = SqliteRows.IdBytes(id);
                using var rows = lookup.ExecuteReader();
                if (rows.Read())
                {
                    found.Add(map(rows));
                }
            }
            // Read-only: committing only ends the snapshot (and lets checkpoints pass it).
            snapshot?.Commit();
        }
        finally
        {
            lookup.Transaction = null;
        }
        return found;
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

    /// <summary>
    /// Gives a NEW ledger database <see cref="PageSizeBytes"/> pages. Every commit appends each page
    /// the batch dirtied to the WAL (one frame, one write call and checksum each) and checkpoints
    /// copy them again; with 4 KiB pages a batch of random-id transfers dirties thousands of index
    /// pages, and the per-frame work was the largest part of the writer's CPU. 8 KiB pages cut the
    /// CPU per durable transfer by about a fifth; 16 KiB saved no more and writes twice the bytes
    /// per page a random insert dirties (docs/internals/ledger.md). The page size is
    /// fixed once the file is WAL, which <see cref="SqliteDatabase.Open"/> sets first, so it is set
    /// here, before; an existing database keeps its page size. Best effort: when this cannot create
    /// the file, the real open below reports why.
    /// </summary>
    private static void CreateWithLargePages(string path)
    {
        if (File.Exists(path))
        {
            return;
        }
        // Empty and owner-only first: SQLite would create it 0644, and its -wal and -shm files take its mode.
        SqliteDatabase.CreatePrivateFile(path);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString();
        try
        {
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = string.Create(CultureInfo.InvariantCulture,
                $"PRAGMA page_size = {PageSizeBytes}; PRAGMA journal_mode = WAL;");
            command.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // SqliteDatabase.Open names the file and the cause.
        }
    }

    /// <summary>
    /// The writer's page cache holds the hot part of the id index and the accounts across batches
    /// (the default 2 MiB spills every large batch to the WAL mid-transaction), and checkpoints
    /// run every ~80 MiB of WAL instead of every 4 MiB: a checkpoint copies and syncs pages on the
    /// writer's thread, so a big batch no longer pays for one nearly every commit. Durability is
    /// unchanged: every commit still syncs the WAL (synchronous = FULL).
    /// </summary>
    private static void TuneWriter(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA page_size";
        // The checkpoint interval is counted in pages: keep it ~80 MiB whatever this file's page size.
        var checkpointPages = WalAutocheckpointBytes / Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        command.CommandText = string.Create(CultureInfo.InvariantCulture,
            $"PRAGMA cache_size = -{WriterCacheKibibytes}; PRAGMA wal_autocheckpoint = {checkpointPages};");
        command.ExecuteNonQuery();
    }

    private const int WriterCacheKibibytes = 65_536;

    /// <summary>The page size of new ledger databases (SQLite's default is 4 KiB).</summary>
    internal const int PageSizeBytes = 8_192;

    private const int WalAutocheckpointBytes = 20_000 * 4_096;

    /// <summary>The writer's connection and its prepared statements, reused for every batch.</summary>
    private sealed class WriterConnection : IDisposable
    {
        private readonly RawStatement _findTransfer;
        private readonly RawStatement _findLeg;
        private readonly RawStatement _insertOwedLeg;
        private readonly RawStatement _settleOwedLeg;
        private readonly RawStatement _insertAccount;
        private readonly RawStatement _insertTransfer;
        private readonly RawStatement _updateHold;
        private readonly RawStatement _updateBalances;
        private readonly RawStatement _insertOutbox;
        private readonly RawStatement _recordWatermark;
        private readonly RawStatement _pruneOutbox;

        public WriterConnection(SqliteConnection connection)
        {
            Connection = connection;
            _insertOutbox = new RawStatement(connection,
                "INSERT INTO ledger_outbox (cell_sequence, partition, partition_sequence, kind, committed_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
            _recordWatermark = new RawStatement(connection,
                "INSERT INTO ledger_meta (key, value) VALUES ('outbox_watermark', ?1) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)");
            // Published rows go, but each partition's newest stays: it is where the partition's numbering resumes.
            _pruneOutbox = new RawStatement(connection,
                "DELETE FROM ledger_outbox WHERE cell_sequence <= ?1 AND cell_sequence NOT IN (SELECT max(cell_sequence) FROM ledger_outbox GROUP BY partition)");
            _findTransfer = new RawStatement(connection,
                $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE id = ?1 AND leg <= 1");
            _findLeg = new RawStatement(connection,
                $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE id = ?1 AND leg = ?2");
            _insertOwedLeg = new RawStatement(connection,
                "INSERT INTO credit_legs_owed (id, partition, credit_partition, debit_account_id, credit_account_id, amount, currency, code, metadata, created_at, state) " +
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)");
            _settleOwedLeg = new RawStatement(connection, "UPDATE credit_legs_owed SET state = ?1 WHERE id = ?2 AND state = 0");
            FindExpiredHolds = SqliteRows.Prepare(connection,
                $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers " +
                "WHERE state = 2 AND expires_at > 0 AND expires_at <= $now ORDER BY expires_at LIMIT $limit",
                "$now", "$limit");
            _insertAccount = new RawStatement(connection,
                "INSERT INTO accounts (id, partition, currency, flags, overdraft_limit, code, debits_pending, " +
                "debits_posted, credits_pending, credits_posted, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0, 0, ?7)");
            _insertTransfer = new RawStatement(connection,
                "INSERT INTO transfers (sequence, id, partition, debit_account_id, credit_account_id, amount, currency, " +
                "pending_id, flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at, leg) " +
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
            _updateHold = new RawStatement(connection,
                "UPDATE transfers SET state = ?1, posted_amount = ?2 WHERE id = ?3 AND leg <= 1");
            _updateBalances = new RawStatement(connection,
                "UPDATE accounts SET debits_pending = ?1, debits_posted = ?2, credits_pending = ?3, credits_posted = ?4 WHERE id = ?5");
        }

        public SqliteConnection Connection { get; }

        public SqliteCommand FindExpiredHolds { get; }

        /// <summary>Whether the current batch's transaction is open.</summary>
        public bool InBatch { get; private set; }

        /// <summary>
        /// Opens the batch's transaction at its first lookup, unless open: the idempotency and hold
        /// lookups while the batch is decided, and its writes, then run in ONE transaction. Each
        /// lookup on its own would be an autocommit read that takes and drops the WAL read lock
        /// (two fcntl calls and a wal-index check per transfer; measured ~20% of the writer's CPU,
        /// docs/internals/ledger.md). IMMEDIATE takes the write lock now, so the batch can never
        /// fail to upgrade later; readers are not blocked by it (WAL), and this is the only writer.
        /// </summary>
        public void BeginBatch()
        {
            if (!InBatch)
            {
                Exec("BEGIN IMMEDIATE");
                InBatch = true;
            }
        }

        /// <summary>Commits the batch: durable (WAL synced, synchronous = FULL) when this returns.</summary>
        public void CommitBatch()
        {
            if (!InBatch)
            {
                throw new InvalidOperationException("No batch transaction is open.");
            }
            Exec("COMMIT");
            InBatch = false;
        }

        /// <summary>Rolls back whatever the batch's transaction holds (nothing of it is written).</summary>
        public void AbandonBatch()
        {
            // SQLite itself may already have rolled back (some I/O errors do): ask it, not the flag.
            if (raw.sqlite3_get_autocommit(Connection.Handle) == 0)
            {
                Exec("ROLLBACK");
            }
            InBatch = false;
        }

        /// <summary>The probe's write: one small row, so that the commit has a page to make durable.</summary>
        public void WriteProbe(long unixMs) =>
            Exec(string.Create(CultureInfo.InvariantCulture,
                $"INSERT INTO ledger_meta (key, value) VALUES ('commit_probe', {unixMs}) ON CONFLICT (key) DO UPDATE SET value = excluded.value"));

        private void Exec(string sql)
        {
            var database = Connection.Handle;
            SqliteException.ThrowExceptionForRC(raw.sqlite3_exec(database, sql), database);
        }

        public LedgerTransfer? FindTransfer(UInt128 id)
        {
            _findTransfer.BindId(1, id);
            try
            {
                return _findTransfer.Step() ? _findTransfer.Transfer() : null;
            }
            finally
            {
                _findTransfer.Reset();
            }
        }

        public LedgerTransfer? FindLeg(UInt128 id, TransferLeg leg)
        {
            _findLeg.BindId(1, id);
            _findLeg.Bind(2, (long)leg);
            try
            {
                return _findLeg.Step() ? _findLeg.Transfer() : null;
            }
            finally
            {
                _findLeg.Reset();
            }
        }

        public void InsertOwedLeg(OwedCreditLeg owed)
        {
            var leg = owed.Leg;
            var insert = _insertOwedLeg;
            insert.BindId(1, leg.Id);
            insert.Bind(2, owed.Partition);
            insert.Bind(3, leg.PartitionOf(PartitionCount));
            insert.BindId(4, leg.DebitAccountId);
            insert.BindId(5, leg.CreditAccountId);
            insert.Bind(6, leg.Amount);
            insert.Bind(7, leg.Currency);
            insert.Bind(8, leg.Code);
            if (MetadataJson.Serialize(leg.Metadata) is { } metadata)
            {
                insert.Bind(9, metadata);
            }
            else
            {
                insert.BindNull(9);
            }
            insert.Bind(10, leg.TimestampUnixMs);
            insert.Execute();
        }

        public void SettleOwedLeg(UInt128 id, OwedLegState state)
        {
            _settleOwedLeg.Bind(1, (long)state);
            _settleOwedLeg.BindId(2, id);
            // A leg settled before (a redelivery after a crash) changes nothing: not an error.
            _settleOwedLeg.Execute();
        }

        /// <summary>Set at open: the store's partition count, for the rows whose partition it derives.</summary>
        public int PartitionCount { get; set; }

        public void InsertAccount(int partition, LedgerAccount account)
        {
            var insert = _insertAccount;
            insert.BindId(1, account.Id);
            insert.Bind(2, partition);
            insert.Bind(3, account.Currency);
            insert.Bind(4, (long)account.Flags);
            insert.Bind(5, account.OverdraftLimit);
            insert.Bind(6, account.Code);
            insert.Bind(7, account.CreatedAtUnixMs);
            insert.Execute();
        }

        public void InsertTransfer(int partition, LedgerTransfer transfer)
        {
            var insert = _insertTransfer;
            insert.Bind(1, transfer.Sequence);
            insert.BindId(2, transfer.Id);
            insert.Bind(3, partition);
            insert.BindId(4, transfer.DebitAccountId);
            insert.BindId(5, transfer.CreditAccountId);
            insert.Bind(6, transfer.Amount);
            insert.Bind(7, transfer.Currency);
            if (transfer.PendingId == UInt128.Zero)
            {
                insert.BindNull(8);
            }
            else
            {
                insert.BindId(8, transfer.PendingId);
            }
            insert.Bind(9, (long)transfer.Flags);
            insert.Bind(10, transfer.TimeoutSeconds);
            insert.Bind(11, transfer.Code);
            if (MetadataJson.Serialize(transfer.Metadata) is { } metadata)
            {
                insert.Bind(12, metadata);
            }
            else
            {
                insert.BindNull(12);
            }
            insert.Bind(13, transfer.TimestampUnixMs);
            insert.Bind(14, (long)transfer.State);
            insert.Bind(15, transfer.PostedAmount);
            insert.Bind(16, transfer.ExpiresAtUnixMs);
            insert.Bind(17, (long)transfer.Leg);
            insert.Execute();
        }

        public void InsertOutboxEvent(LedgerOutboxEvent outboxEvent)
        {
            var insert = _insertOutbox;
            insert.Bind(1, outboxEvent.CellSequence);
            insert.Bind(2, outboxEvent.Partition);
            insert.Bind(3, outboxEvent.PartitionSequence);
            insert.Bind(4, outboxEvent.Kind);
            insert.Bind(5, outboxEvent.CommittedAtUnixMs);
            insert.BindBlob(6, outboxEvent.Payload);
            insert.Execute();
        }

        public void RecordOutboxWatermark(long watermark)
        {
            _recordWatermark.Bind(1, watermark);
            _recordWatermark.Execute();
            _pruneOutbox.Bind(1, watermark);
            _pruneOutbox.Execute();
        }

        public void UpdateHold(LedgerTransfer hold)
        {
            _updateHold.Bind(1, (long)hold.State);
            _updateHold.Bind(2, hold.PostedAmount);
            _updateHold.BindId(3, hold.Id);
            ExpectOneRow(_updateHold.Execute(), "hold", hold.Id);
        }

        public void UpdateBalances(LedgerAccount account)
        {
            _updateBalances.Bind(1, account.DebitsPending);
            _updateBalances.Bind(2, account.DebitsPosted);
            _updateBalances.Bind(3, account.CreditsPending);
            _updateBalances.Bind(4, account.CreditsPosted);
            _updateBalances.BindId(5, account.Id);
            ExpectOneRow(_updateBalances.Execute(), "account", account.Id);
        }

        public void Dispose()
        {
            _findTransfer.Dispose();
            _findLeg.Dispose();
            _insertOwedLeg.Dispose();
            _settleOwedLeg.Dispose();
            _insertAccount.Dispose();
            _insertTransfer.Dispose();
            _updateHold.Dispose();
            _updateBalances.Dispose();
            _insertOutbox.Dispose();
            _recordWatermark.Dispose();
            _pruneOutbox.Dispose();
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
        public SqliteConnection Connection => connection;

        public SqliteCommand GetAccount { get; } = SqliteRows.Prepare(connection,
            $"SELECT {SqliteLedgerSchema.AccountColumns} FROM accounts WHERE id = $id", "$id");

        public SqliteCommand GetTransfer { get; } = SqliteRows.Prepare(connection,
            $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE id = $id AND leg <= 1", "$id");

        // Each arm is an index scan in sequence order; SQLite merges them (MERGE UNION ALL) and
        // stops as soon as the limit is reached or the caller stops stepping.
        public SqliteCommand ListAccountTransfers { get; } = SqliteRows.Prepare(connection,
            $"SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE debit_account_id = $account AND sequence < $before AND leg <> 2 " +
            $"UNION ALL SELECT {SqliteLedgerSchema.TransferColumns} FROM transfers WHERE credit_account_id = $account AND sequence < $before AND leg IN (0, 2) " +
            "ORDER BY sequence DESC LIMIT $limit",
            "$account", "$before", "$limit");

        public SqliteCommand OwedCreditLegs { get; } = SqliteRows.Prepare(connection,
            $"SELECT {SqliteLedgerSchema.OwedLegColumns} FROM credit_legs_owed WHERE state = 0 ORDER BY created_at LIMIT $limit", "$limit");

        public void Dispose()
        {
            GetAccount.Dispose();
            GetTransfer.Dispose();
            ListAccountTransfers.Dispose();
            OwedCreditLegs.Dispose();
            connection.Dispose();
        }
    }
}
