using System.Data;
using System.Globalization;
using Bulwark.Ledger.Protos;
using Npgsql;
using NpgsqlTypes;

namespace Bulwark.Ledger.Storage;

/// <summary>
/// Moving partitions on PostgreSQL (docs/internals/cells.md, "Moving a partition"), the same rows
/// as <see cref="SqliteLedgerStore"/> reads and writes for them. Every write is one transaction on
/// the writer's connection that starts with <c>writer_fence</c>, as a batch does: a writer another
/// one took over from cannot record a move step, import rows or delete a copy. A partition's
/// transfer rows are found through its accounts (migration 3 says why there is no index on
/// transfers by partition).
/// </summary>
public sealed partial class PostgresLedgerStore
{
    /// <summary>The ids of a partition's accounts, computed once per statement (an init plan), for <c>= ANY</c> on an account-history index.</summary>
    private const string PartitionAccountIds = "ARRAY(SELECT id FROM ledger.accounts WHERE partition = $1)";

    public IReadOnlyList<LedgerAccount> LoadAccounts(int partition)
    {
        var writer = EnsureWriter(reconnect: false);
        return Guard(() =>
        {
            using var command = new NpgsqlCommand($"SELECT {PostgresLedgerSchema.AccountColumns} FROM ledger.accounts WHERE partition = $1", writer.Connection);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
            using var reader = command.ExecuteReader();
            var accounts = new List<LedgerAccount>();
            while (reader.Read())
            {
                accounts.Add(ReadAccount(reader));
            }
            return accounts;
        });
    }

    public void SaveMoveStep(MoveStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var writer = EnsureWriter(reconnect: false);
        Guard(() =>
        {
            using var transaction = writer.Connection.BeginTransaction(IsolationLevel.ReadCommitted);
            using var batch = new NpgsqlBatch(writer.Connection, transaction);
            batch.BatchCommands.Add(Fence(writer));
            if (step.Owner is { } owner)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(
                    "INSERT INTO ledger.partition_owners (partition, epoch, state, owner_cell, owner_epoch, lease_until) VALUES ($1, $2, $3, $4, $5, $6) " +
                    "ON CONFLICT (partition) DO UPDATE SET epoch = excluded.epoch, state = excluded.state, owner_cell = excluded.owner_cell, " +
                    "owner_epoch = excluded.owner_epoch, lease_until = excluded.lease_until")
                {
                    Parameters =
                    {
                        new NpgsqlParameter<int> { TypedValue = owner.Partition },
                        new NpgsqlParameter<long> { TypedValue = owner.Epoch },
                        new NpgsqlParameter<int> { TypedValue = (int)owner.State },
                        new NpgsqlParameter<string> { TypedValue = owner.OwnerCell ?? "" },
                        new NpgsqlParameter<long> { TypedValue = owner.OwnerEpoch },
                        new NpgsqlParameter<long> { TypedValue = owner.LeaseUntilUnixMs },
                    },
                });
            }
            if (step.Import is { } import)
            {
                batch.BatchCommands.Add(WriteImport(import));
            }
            if (step.DeleteImport >= 0)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM ledger.partition_imports WHERE partition = $1")
                {
                    Parameters = { new NpgsqlParameter<int> { TypedValue = step.DeleteImport } },
                });
            }
            if (step.Event is { } outboxEvent)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(
                    "INSERT INTO ledger.ledger_outbox (cell_sequence, partition, partition_sequence, kind, committed_at, payload) VALUES ($1, $2, $3, $4, $5, $6)")
                {
                    Parameters =
                    {
                        new NpgsqlParameter<long> { TypedValue = outboxEvent.CellSequence },
                        new NpgsqlParameter<int> { TypedValue = outboxEvent.Partition },
                        new NpgsqlParameter<long> { TypedValue = outboxEvent.PartitionSequence },
                        new NpgsqlParameter<int> { TypedValue = outboxEvent.Kind },
                        new NpgsqlParameter<long> { TypedValue = outboxEvent.CommittedAtUnixMs },
                        new NpgsqlParameter<byte[]> { TypedValue = outboxEvent.Payload },
                    },
                });
            }
            batch.ExecuteNonQuery();
            transaction.Commit();
            return 0;
        });
    }

    public void ImportPartitionRows(int partition, PartitionRowSet rows, PartitionImportRecord progress)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(progress);
        var writer = EnsureWriter(reconnect: false);
        // A row to refresh named twice is refreshed once, with the last state given.
        var refreshed = rows.Refreshed.GroupBy(row => (row.Id, row.Leg)).Select(group => group.Last()).ToArray();
        // A refusal is decided inside the transaction but thrown outside Guard: a copy missing a
        // row is not a broken connection (the transaction is rolled back as it is disposed).
        var refusal = Guard(() =>
        {
            using var transaction = writer.Connection.BeginTransaction(IsolationLevel.ReadCommitted);
            using var batch = new NpgsqlBatch(writer.Connection, transaction);
            batch.BatchCommands.Add(Fence(writer));
            batch.BatchCommands.Add(ReplaceAccounts(partition, rows.Accounts));
            batch.BatchCommands.Add(writer.BindImportedTransfers(partition, rows.Transfers));
            var refresh = RefreshTransfers(refreshed);
            batch.BatchCommands.Add(refresh);
            batch.BatchCommands.Add(ReplaceOwedLegs(rows.OwedLegs));
            batch.BatchCommands.Add(WriteImport(progress));
            batch.ExecuteNonQuery();
            if (refresh.RecordsAffected != refreshed.Length)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"The copy of partition {partition} lacks {refreshed.Length - refresh.RecordsAffected} of the {refreshed.Length} rows to refresh: start the import again.");
            }
            transaction.Commit();
            return null;
        });
        if (refusal is not null)
        {
            throw new InvalidOperationException(refusal);
        }
        // The copy's ids are committed here now: a client's retry of a transfer committed before
        // the move must be found once this cell owns the partition, not taken as new.
        RememberCommitted(writer, rows.Transfers.Select(row => row.Id));
    }

    public PartitionDigestValue DigestPartition(int partition, Cells.PartitionDigestPrefix? prefix = null)
    {
        if (prefix is not null && prefix.Partition != partition)
        {
            throw new ArgumentException($"The prefix is of partition {prefix.Partition}, not {partition}.", nameof(prefix));
        }
        var writer = EnsureWriter(reconnect: false);
        // A read: no fence. A step that acts on the digest (verify, release, own) writes through
        // SaveMoveStep, which is fenced, so a deposed writer's digest changes nothing.
        return Guard(() =>
        {
            using var transaction = writer.Connection.BeginTransaction(IsolationLevel.RepeatableRead);
            var digest = prefix is null ? new Cells.PartitionDigestBuilder() : Cells.PartitionDigestBuilder.From(prefix);
            var newDebitLegs = new List<UInt128>();
            using (var batch = new NpgsqlBatch(writer.Connection, transaction))
            {
                AddPartitionReads(batch, partition, PartitionTransfers(PostgresLedgerSchema.TransferColumns, prefix is null ? "" : " AND sequence > $2"));
                if (prefix is null)
                {
                    batch.BatchCommands.Add(OwedLegsOf(partition));
                }
                else
                {
                    batch.BatchCommands[1].Parameters.Add(new NpgsqlParameter<long> { TypedValue = prefix.ThroughSequence });
                    // The rows that were pending when the prefix was taken, as they are now.
                    batch.BatchCommands.Add(new NpgsqlBatchCommand(
                        $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers " +
                        "WHERE (id, leg) IN (SELECT * FROM unnest($2::uuid[], $3::smallint[])) AND partition = $1 AND sequence <= $4")
                    {
                        Parameters =
                        {
                            new NpgsqlParameter<int> { TypedValue = partition },
                            new NpgsqlParameter<Guid[]> { TypedValue = prefix.Pending.Select(row => ToGuid(row.Id)).ToArray() },
                            new NpgsqlParameter<short[]> { TypedValue = prefix.Pending.Select(row => (short)row.Leg).ToArray() },
                            new NpgsqlParameter<long> { TypedValue = prefix.ThroughSequence },
                        },
                    });
                }
                using var reader = batch.ExecuteReader();
                while (reader.Read())
                {
                    digest.AddAccount(ReadAccount(reader));
                }
                reader.NextResult();
                while (reader.Read())
                {
                    var row = ReadTransfer(reader);
                    digest.AddTransfer(row);
                    if (row.Leg == TransferLeg.Debit)
                    {
                        newDebitLegs.Add(row.Id);
                    }
                }
                reader.NextResult();
                while (reader.Read())
                {
                    if (prefix is null)
                    {
                        digest.AddOwedLeg(ReadOwedLeg(reader));
                    }
                    else
                    {
                        digest.AddTransfer(ReadTransfer(reader));
                    }
                }
            }
            if (prefix is not null)
            {
                // The owed legs open then, and those written since.
                using var command = new NpgsqlCommand($"SELECT {PostgresLedgerSchema.OwedLegColumns} FROM ledger.credit_legs_owed WHERE id = ANY($2) AND partition = $1", writer.Connection, transaction);
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
                command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = prefix.OwedLegsToRead(newDebitLegs).Select(ToGuid).ToArray() });
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    digest.AddOwedLeg(ReadOwedLeg(reader));
                }
            }
            transaction.Commit();
            return digest.Finish();
        });
    }

    private static NpgsqlBatchCommand OwedLegsOf(int partition) =>
        new($"SELECT {PostgresLedgerSchema.OwedLegColumns} FROM ledger.credit_legs_owed WHERE partition = $1")
        {
            Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
        };

    public async Task<Cells.PartitionDigestPrefix> DigestSettledAsync(int partition, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One snapshot: every row at or below the highest sequence seen is in it.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var digest = new Cells.PartitionDigestBuilder();
        var pending = new List<(UInt128, TransferLeg)>();
        var open = new List<UInt128>();
        var settled = new HashSet<UInt128>();
        long through = 0;
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(PartitionTransfers(PostgresLedgerSchema.TransferColumns, ""))
            {
                Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
            });
            batch.BatchCommands.Add(OwedLegsOf(partition));
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row =>
            {
                var transfer = ReadTransfer(row);
                through = Math.Max(through, transfer.Sequence);
                if (Cells.PartitionDigestBuilder.IsSettled(transfer))
                {
                    digest.AddTransfer(transfer);
                }
                else
                {
                    pending.Add((transfer.Id, transfer.Leg));
                }
            }, cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row =>
            {
                var owed = ReadOwedLeg(row);
                if (Cells.PartitionDigestBuilder.IsSettled(owed))
                {
                    digest.AddOwedLeg(owed);
                    settled.Add(owed.Leg.Id);
                }
                else
                {
                    open.Add(owed.Leg.Id);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return digest.Prefix(partition, through, pending, open, settled);
    }

    /// <summary>
    /// PostgreSQL has no cheap per-session counterpart of SQLite's data_version (its transaction ids
    /// are shared by every database of the server, other cells' included), so this store cannot tell
    /// a write beside the writer: a move's prefix and a checked digest are trusted as the writer's own
    /// change count says, and a cell restarted hashes everything again.
    /// </summary>
    public long ForeignWriteMark() => 0;

    public int DeletePartitionRows(int partition, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var writer = EnsureWriter(reconnect: false);
        return Guard(() =>
        {
            using var transaction = writer.Connection.BeginTransaction(IsolationLevel.ReadCommitted);
            using (var fence = new NpgsqlBatch(writer.Connection, transaction) { BatchCommands = { Fence(writer) } })
            {
                fence.ExecuteNonQuery();
            }
            // Transfers first: they are found through the accounts, which go last. A subquery
            // with LIMIT and no ORDER BY stops at the limit, so a chunk reads about what it deletes.
            var deleted = Delete(writer, transaction, partition, limit,
                $"DELETE FROM ledger.transfers WHERE sequence IN (SELECT sequence FROM ({PartitionTransfers("sequence", "")}) AS rows LIMIT $2)");
            if (deleted < limit)
            {
                deleted += Delete(writer, transaction, partition, limit - deleted,
                    "DELETE FROM ledger.credit_legs_owed WHERE id IN (SELECT id FROM ledger.credit_legs_owed WHERE partition = $1 LIMIT $2)");
            }
            if (deleted < limit)
            {
                deleted += Delete(writer, transaction, partition, limit - deleted,
                    "DELETE FROM ledger.accounts WHERE id IN (SELECT id FROM ledger.accounts WHERE partition = $1 LIMIT $2)");
            }
            transaction.Commit();
            return deleted;
        });
    }

    public async Task<PartitionRowSet> ExportPartitionAsync(int partition, long afterSequence, int limit,
        IReadOnlyCollection<UInt128> refreshHolds, IReadOnlyCollection<UInt128> refreshOwedLegs, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentNullException.ThrowIfNull(refreshHolds);
        ArgumentNullException.ThrowIfNull(refreshOwedLegs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One snapshot: the accounts' balances agree with the rows read beside them.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var accounts = new List<LedgerAccount>();
        var transfers = new List<LedgerTransfer>();
        var refreshed = new List<LedgerTransfer>();
        var owed = new Dictionary<UInt128, OwedCreditLeg>();
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            AddPartitionReads(batch, partition, NextTransfers());
            batch.BatchCommands[1].Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterSequence });
            batch.BatchCommands[1].Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit + 1 });
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE id = ANY($2) AND leg <= 1 AND partition = $1")
            {
                Parameters = { new NpgsqlParameter<int> { TypedValue = partition }, new NpgsqlParameter<Guid[]> { TypedValue = refreshHolds.Select(ToGuid).ToArray() } },
            });
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT {PostgresLedgerSchema.OwedLegColumns} FROM ledger.credit_legs_owed WHERE partition = $1 AND state = 0")
            {
                Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
            });
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row => accounts.Add(ReadAccount(row)), cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row => transfers.Add(ReadTransfer(row)), cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row => refreshed.Add(ReadTransfer(row)), cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row => Keep(owed, ReadOwedLeg(row)), cancellationToken).ConfigureAwait(false);
        }
        var more = transfers.Count > limit;
        if (more)
        {
            transfers.RemoveAt(transfers.Count - 1);
        }
        // The owed legs the copy asked to refresh, and those of the debit legs it gets now (settled
        // ones too: the open ones are in already), from the same snapshot.
        var owedIds = refreshOwedLegs.Concat(transfers.Where(row => row.Leg == TransferLeg.Debit).Select(row => row.Id)).Select(ToGuid).ToArray();
        if (owedIds.Length > 0)
        {
            await using var command = new NpgsqlCommand(
                $"SELECT {PostgresLedgerSchema.OwedLegColumns} FROM ledger.credit_legs_owed WHERE id = ANY($2) AND partition = $1", connection, transaction);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = owedIds });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row => Keep(owed, ReadOwedLeg(row)), cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        var watermark = transfers.Count > 0 ? transfers[^1].Sequence : afterSequence;
        return new PartitionRowSet(accounts, transfers, refreshed, owed.Values.ToArray(), watermark, more);

        static void Keep(Dictionary<UInt128, OwedCreditLeg> owed, OwedCreditLeg leg) => owed[leg.Leg.Id] = leg;
    }

    public async Task<(IReadOnlyList<UInt128> PendingHolds, IReadOnlyList<UInt128> OpenOwedLegs)> GetOpenIdsAsync(int partition, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                // Holds are WHOLE or DEBIT rows, found through their debit account.
                new NpgsqlBatchCommand($"SELECT id FROM ledger.transfers WHERE partition = $1 AND state = 2 AND leg <= 1 AND debit_account_id = ANY({PartitionAccountIds})")
                {
                    Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
                },
                new NpgsqlBatchCommand("SELECT id FROM ledger.credit_legs_owed WHERE partition = $1 AND state = 0")
                {
                    Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
                },
            },
        };
        var holds = new List<UInt128>();
        var owed = new List<UInt128>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await ReadAllAsync(reader, row => holds.Add(FromGuid(row.GetGuid(0))), cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await ReadAllAsync(reader, row => owed.Add(FromGuid(row.GetGuid(0))), cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (holds, owed);
    }

    public async Task<UInt128?> FindRowAcrossPartitionsAsync(int partition, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _readers.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // Through the partition's accounts, each side by its index; leg 0 is WHOLE.
        await using var command = new NpgsqlCommand(
            "(SELECT t.id FROM ledger.accounts a JOIN ledger.transfers t ON t.debit_account_id = a.id JOIN ledger.accounts o ON o.id = t.credit_account_id WHERE a.partition = $1 AND t.leg = 0 AND o.partition <> $1 LIMIT 1) " +
            "UNION ALL (SELECT t.id FROM ledger.accounts a JOIN ledger.transfers t ON t.credit_account_id = a.id JOIN ledger.accounts o ON o.id = t.debit_account_id WHERE a.partition = $1 AND t.leg = 0 AND o.partition <> $1 LIMIT 1) LIMIT 1",
            connection)
        {
            Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
        };
        var id = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return id is Guid guid ? FromGuid(guid) : null;
    }

    /// <summary>
    /// The transfer rows of partition <c>$1</c> (<paramref name="columns"/>), found through its
    /// accounts: as debit account the WHOLE, DEBIT and RETURN rows, as credit account the CREDIT
    /// rows; the partition column settles a WHOLE row between two partitions, made before cells.
    /// Each arm is an index scan of <c>transfers_debit</c> or <c>transfers_credit</c> over the
    /// partition's account ids.
    /// </summary>
    private static string PartitionTransfers(string columns, string extra) =>
        $"SELECT {columns} FROM ledger.transfers WHERE debit_account_id = ANY({PartitionAccountIds}) AND partition = $1 AND leg <> 2{extra} " +
        $"UNION ALL SELECT {columns} FROM ledger.transfers WHERE credit_account_id = ANY({PartitionAccountIds}) AND partition = $1 AND leg = 2{extra}";

    /// <summary>
    /// Up to <c>$3</c> rows of partition <c>$1</c> after sequence <c>$2</c>, in sequence order. Each
    /// account gives at most <c>$3</c> of its own first (an index range on (account, sequence) that
    /// stops there), so an account with a long history costs one chunk's rows, not its history.
    /// </summary>
    private static string NextTransfers()
    {
        const string Columns = "t.sequence, t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.pending_id, t.flags, " +
            "t.timeout_seconds, t.code, t.metadata, t.timestamp, t.state, t.posted_amount, t.expires_at, t.leg";
        return
            $"SELECT {Columns} FROM ledger.accounts AS a CROSS JOIN LATERAL (" +
            $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE debit_account_id = a.id AND sequence > $2 AND partition = $1 AND leg <> 2 " +
            "ORDER BY sequence LIMIT $3) AS t WHERE a.partition = $1 " +
            $"UNION ALL SELECT {Columns} FROM ledger.accounts AS a CROSS JOIN LATERAL (" +
            $"SELECT {PostgresLedgerSchema.TransferColumns} FROM ledger.transfers WHERE credit_account_id = a.id AND sequence > $2 AND partition = $1 AND leg = 2 " +
            "ORDER BY sequence LIMIT $3) AS t WHERE a.partition = $1 " +
            "ORDER BY sequence LIMIT $3";
    }

    /// <summary>Adds the reads of a partition's accounts, then of its transfers by <paramref name="transfersSql"/> (parameter <c>$1</c>: the partition).</summary>
    private static void AddPartitionReads(NpgsqlBatch batch, int partition, string transfersSql)
    {
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT {PostgresLedgerSchema.AccountColumns} FROM ledger.accounts WHERE partition = $1")
        {
            Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(transfersSql)
        {
            Parameters = { new NpgsqlParameter<int> { TypedValue = partition } },
        });
    }

    private static async Task ReadAllAsync(NpgsqlDataReader reader, Action<NpgsqlDataReader> row, CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            row(reader);
        }
    }

    private static int Delete(Writer writer, NpgsqlTransaction transaction, int partition, int limit, string sql)
    {
        using var command = new NpgsqlCommand(sql, writer.Connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        return command.ExecuteNonQuery();
    }

    private static NpgsqlBatchCommand Fence(Writer writer) => new("SELECT ledger.writer_fence($1)")
    {
        Parameters = { new NpgsqlParameter<long> { TypedValue = writer.Epoch } },
    };

    private static NpgsqlBatchCommand WriteImport(PartitionImportRecord import) => new(
        "INSERT INTO ledger.partition_imports (partition, source_cell, source_epoch, watermark, state, digest, event_sequence) VALUES ($1, $2, $3, $4, $5, $6, $7) " +
        "ON CONFLICT (partition) DO UPDATE SET source_cell = excluded.source_cell, source_epoch = excluded.source_epoch, " +
        "watermark = excluded.watermark, state = excluded.state, digest = excluded.digest, event_sequence = excluded.event_sequence")
    {
        Parameters =
        {
            new NpgsqlParameter<int> { TypedValue = import.Partition },
            new NpgsqlParameter<string> { TypedValue = import.SourceCell },
            new NpgsqlParameter<long> { TypedValue = import.SourceEpoch },
            new NpgsqlParameter<long> { TypedValue = import.Watermark },
            new NpgsqlParameter<int> { TypedValue = (int)import.State },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = import.Digest.Length == 0 ? DBNull.Value : import.Digest },
            new NpgsqlParameter<long> { TypedValue = import.EventSequence },
        },
    };

    /// <summary>Accounts replaced whole: the owner's balances are the truth.</summary>
    private static NpgsqlBatchCommand ReplaceAccounts(int partition, IReadOnlyList<LedgerAccount> accounts) => new(
        "INSERT INTO ledger.accounts (id, partition, currency, flags, overdraft_limit, code, debits_pending, debits_posted, credits_pending, credits_posted, created_at) " +
        "SELECT a.id, $1, a.currency, a.flags, a.overdraft_limit, a.code, a.dp, a.dpo, a.cp, a.cpo, a.created_at " +
        "FROM unnest($2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS a(id, currency, flags, overdraft_limit, code, dp, dpo, cp, cpo, created_at) " +
        "ON CONFLICT (id) DO UPDATE SET partition = excluded.partition, currency = excluded.currency, flags = excluded.flags, " +
        "overdraft_limit = excluded.overdraft_limit, code = excluded.code, debits_pending = excluded.debits_pending, debits_posted = excluded.debits_posted, " +
        "credits_pending = excluded.credits_pending, credits_posted = excluded.credits_posted, created_at = excluded.created_at")
    {
        Parameters =
        {
            new NpgsqlParameter<int> { TypedValue = partition },
            new NpgsqlParameter<Guid[]> { TypedValue = accounts.Select(account => ToGuid(account.Id)).ToArray() },
            new NpgsqlParameter<string[]> { TypedValue = accounts.Select(account => account.Currency).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => (long)account.Flags).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => account.OverdraftLimit).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => (long)account.Code).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => account.DebitsPending).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => account.DebitsPosted).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => account.CreditsPending).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => account.CreditsPosted).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = accounts.Select(account => account.CreatedAtUnixMs).ToArray() },
        },
    };

    /// <summary>A refreshed row's state, posted amount and expiry (a hold posted, voided or expired at the source since it was copied).</summary>
    private static NpgsqlBatchCommand RefreshTransfers(IReadOnlyList<LedgerTransfer> rows) => new(
        "UPDATE ledger.transfers AS t SET state = r.state, posted_amount = r.posted_amount, expires_at = r.expires_at " +
        "FROM unnest($1, $2, $3, $4, $5) AS r(id, leg, state, posted_amount, expires_at) WHERE t.id = r.id AND t.leg = r.leg")
    {
        Parameters =
        {
            new NpgsqlParameter<Guid[]> { TypedValue = rows.Select(row => ToGuid(row.Id)).ToArray() },
            new NpgsqlParameter<short[]> { TypedValue = rows.Select(row => (short)row.Leg).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = rows.Select(row => (long)row.State).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = rows.Select(row => row.PostedAmount).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = rows.Select(row => row.ExpiresAtUnixMs).ToArray() },
        },
    };

    /// <summary>Owed legs replaced whole, with their state at the source.</summary>
    private NpgsqlBatchCommand ReplaceOwedLegs(IReadOnlyList<OwedCreditLeg> owed) => new(
        "INSERT INTO ledger.credit_legs_owed (id, partition, credit_partition, debit_account_id, credit_account_id, amount, currency, code, metadata, created_at, state) " +
        "SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) " +
        "ON CONFLICT (id) DO UPDATE SET partition = excluded.partition, credit_partition = excluded.credit_partition, " +
        "debit_account_id = excluded.debit_account_id, credit_account_id = excluded.credit_account_id, amount = excluded.amount, " +
        "currency = excluded.currency, code = excluded.code, metadata = excluded.metadata, created_at = excluded.created_at, state = excluded.state")
    {
        Parameters =
        {
            new NpgsqlParameter<Guid[]> { TypedValue = owed.Select(row => ToGuid(row.Leg.Id)).ToArray() },
            new NpgsqlParameter<int[]> { TypedValue = owed.Select(row => row.Partition).ToArray() },
            new NpgsqlParameter<int[]> { TypedValue = owed.Select(row => row.Leg.PartitionOf(_partitionCount)).ToArray() },
            new NpgsqlParameter<Guid[]> { TypedValue = owed.Select(row => ToGuid(row.Leg.DebitAccountId)).ToArray() },
            new NpgsqlParameter<Guid[]> { TypedValue = owed.Select(row => ToGuid(row.Leg.CreditAccountId)).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = owed.Select(row => row.Leg.Amount).ToArray() },
            new NpgsqlParameter<string[]> { TypedValue = owed.Select(row => row.Leg.Currency).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = owed.Select(row => (long)row.Leg.Code).ToArray() },
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = owed.Select(row => MetadataJson.Serialize(row.Leg.Metadata)).ToArray() },
            new NpgsqlParameter<long[]> { TypedValue = owed.Select(row => row.Leg.TimestampUnixMs).ToArray() },
            new NpgsqlParameter<int[]> { TypedValue = owed.Select(row => (int)row.State).ToArray() },
        },
    };
}
