namespace Bulwark.Ledger.Storage;

/// <summary>
/// The ledger's SQLite schema, as numbered migrations (never edit a released one; add the next).
/// <para>
/// Ids are 16-byte big-endian BLOBs, so that byte order equals numeric order. A transfer's
/// <c>id</c> is its key (NOT NULL UNIQUE), while <c>sequence</c> is the table's INTEGER PRIMARY KEY
/// (SQLite's rowid): every insert then appends at the right edge of the table's B-tree instead of
/// landing at a random place keyed by a random client id, and one index fewer is maintained per
/// insert than with a separate rowid. The account-history indexes are on the account id alone:
/// SQLite appends the rowid — <c>sequence</c> — to every index entry, so entries are already in
/// sequence order within an account and "newest first below a sequence" is an index range scan
/// (migration 2 dropped the explicit <c>sequence</c> column that version 1 indexed, which stored it
/// twice: the indexes are ~13% smaller and the writer's CPU per transfer ~10% lower). The partial index on pending holds stays as small as the number
/// of open holds, which is what the expiry sweep reads.
/// </para>
/// <para>
/// There are no foreign keys: the single writer checks that both accounts exist before it
/// writes, and <see cref="LedgerChecker"/> proves it from outside. CHECK constraints that cost
/// nothing catch a corrupting bug at the write.
/// </para>
/// </summary>
public static class SqliteLedgerSchema
{
    public const string StoreName = "ledger";

    public const int StatePending = 2;

    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE ledger_meta (
            key TEXT NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE accounts (
            id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
            partition INTEGER NOT NULL,
            currency TEXT NOT NULL CHECK (length(currency) = 3),
            flags INTEGER NOT NULL,
            overdraft_limit INTEGER NOT NULL CHECK (overdraft_limit >= 0),
            code INTEGER NOT NULL,
            debits_pending INTEGER NOT NULL CHECK (debits_pending >= 0),
            debits_posted INTEGER NOT NULL CHECK (debits_posted >= 0),
            credits_pending INTEGER NOT NULL CHECK (credits_pending >= 0),
            credits_posted INTEGER NOT NULL CHECK (credits_posted >= 0),
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE transfers (
            sequence INTEGER PRIMARY KEY,
            id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
            partition INTEGER NOT NULL,
            debit_account_id BLOB NOT NULL,
            credit_account_id BLOB NOT NULL,
            amount INTEGER NOT NULL CHECK (amount >= 0),
            currency TEXT NOT NULL,
            pending_id BLOB,
            flags INTEGER NOT NULL,
            timeout_seconds INTEGER NOT NULL,
            code INTEGER NOT NULL,
            metadata TEXT,
            timestamp INTEGER NOT NULL,
            state INTEGER NOT NULL,
            posted_amount INTEGER NOT NULL CHECK (posted_amount >= 0),
            expires_at INTEGER NOT NULL
        );

        CREATE INDEX transfers_debit ON transfers (debit_account_id, sequence);
        CREATE INDEX transfers_credit ON transfers (credit_account_id, sequence);
        CREATE INDEX transfers_pending_expiry ON transfers (expires_at) WHERE state = 2 AND expires_at > 0;
        """,
        """
        DROP INDEX transfers_debit;
        CREATE INDEX transfers_debit ON transfers (debit_account_id);
        DROP INDEX transfers_credit;
        CREATE INDEX transfers_credit ON transfers (credit_account_id);
        """,
        // Cells (docs/internals/cells.md): a transfer between partitions is two rows with one id,
        // told apart by `leg`, so rows are unique by (id, leg); SQLite cannot change a constraint
        // in place, so the table is rebuilt (every existing row is a WHOLE one). The cell's
        // identity and ownership table, and the credit legs it owes other cells, are new.
        """
        CREATE TABLE transfers_cells (
            sequence INTEGER PRIMARY KEY,
            id BLOB NOT NULL CHECK (length(id) = 16),
            leg INTEGER NOT NULL DEFAULT 0 CHECK (leg BETWEEN 0 AND 3),
            partition INTEGER NOT NULL,
            debit_account_id BLOB NOT NULL,
            credit_account_id BLOB NOT NULL,
            amount INTEGER NOT NULL CHECK (amount >= 0),
            currency TEXT NOT NULL,
            pending_id BLOB,
            flags INTEGER NOT NULL,
            timeout_seconds INTEGER NOT NULL,
            code INTEGER NOT NULL,
            metadata TEXT,
            timestamp INTEGER NOT NULL,
            state INTEGER NOT NULL,
            posted_amount INTEGER NOT NULL CHECK (posted_amount >= 0),
            expires_at INTEGER NOT NULL,
            UNIQUE (id, leg)
        );
        INSERT INTO transfers_cells (sequence, id, leg, partition, debit_account_id, credit_account_id, amount, currency,
            pending_id, flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at)
        SELECT sequence, id, 0, partition, debit_account_id, credit_account_id, amount, currency,
            pending_id, flags, timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at FROM transfers;
        DROP TABLE transfers;
        ALTER TABLE transfers_cells RENAME TO transfers;
        CREATE INDEX transfers_debit ON transfers (debit_account_id);
        CREATE INDEX transfers_credit ON transfers (credit_account_id);
        CREATE INDEX transfers_pending_expiry ON transfers (expires_at) WHERE state = 2 AND expires_at > 0;

        CREATE TABLE cell_identity (
            key TEXT NOT NULL PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE partition_owners (
            partition INTEGER NOT NULL PRIMARY KEY,
            epoch INTEGER NOT NULL CHECK (epoch >= 1),
            state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 3),
            owner_cell TEXT NOT NULL DEFAULT '',
            owner_epoch INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE credit_legs_owed (
            id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
            partition INTEGER NOT NULL,
            credit_partition INTEGER NOT NULL,
            debit_account_id BLOB NOT NULL,
            credit_account_id BLOB NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            code INTEGER NOT NULL,
            metadata TEXT,
            created_at INTEGER NOT NULL,
            state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2)
        ) WITHOUT ROWID;
        CREATE INDEX credit_legs_owed_open ON credit_legs_owed (created_at) WHERE state = 0;
        """,
        // Moving partitions (docs/internals/cells.md): a pause ends by itself at its lease; a copy
        // being imported has a record (its source, the source's sequence it caught up to, and once
        // verified the digest it matched). A partition's rows are found through its accounts
        // (transfers by their debit or credit account's index), so no index on transfers is added
        // for moves: the writer's cost per transfer stays as it was. Owed legs and accounts by partition are.
        """
        ALTER TABLE partition_owners ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE partition_imports (
            partition INTEGER NOT NULL PRIMARY KEY,
            source_cell TEXT NOT NULL,
            source_epoch INTEGER NOT NULL CHECK (source_epoch >= 1),
            watermark INTEGER NOT NULL CHECK (watermark >= 0),
            state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 2),
            digest BLOB
        );
        CREATE INDEX accounts_partition ON accounts (partition);
        CREATE INDEX credit_legs_owed_partition ON credit_legs_owed (partition);
        """,
        // The event log's outbox (docs/internals/event-log.md): one row per event, written in the
        // batch's transaction. cell_sequence is the rowid, so an insert appends at the B-tree's
        // right edge and the relay reads in order by the primary key; no other index, so the
        // writer pays one append per event. The relay's watermark is ledger_meta 'outbox_watermark'.
        """
        CREATE TABLE ledger_outbox (
            cell_sequence INTEGER PRIMARY KEY,
            partition INTEGER NOT NULL CHECK (partition >= 0),
            partition_sequence INTEGER NOT NULL CHECK (partition_sequence >= 1),
            kind INTEGER NOT NULL,
            committed_at INTEGER NOT NULL,
            payload BLOB NOT NULL
        );
        """,
        // A moved partition's history in the event log follows it: the verified copy keeps the
        // source's last event sequence, which the new owner continues.
        """
        ALTER TABLE partition_imports ADD COLUMN event_sequence INTEGER NOT NULL DEFAULT 0 CHECK (event_sequence >= 0);
        """,
        // A move asks the copy for its pending holds every round, during the pause too: a partial
        // index of pending rows by partition finds them without reading the partition's history.
        // Only holds enter it, and leave it when they settle; other rows never touch it.
        """
        CREATE INDEX transfers_pending ON transfers (partition) WHERE state = 2;
        """,
    ];

    /// <summary>The columns every transfer query selects, in the order the reader maps them.</summary>
    public const string TransferColumns =
        "sequence, id, debit_account_id, credit_account_id, amount, currency, pending_id, flags, " +
        "timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at, leg";

    public const string OwedLegColumns =
        "id, partition, debit_account_id, credit_account_id, amount, currency, code, metadata, created_at, state";

    public const string AccountColumns =
        "id, currency, flags, overdraft_limit, code, debits_pending, debits_posted, credits_pending, " +
        "credits_posted, created_at";
}
