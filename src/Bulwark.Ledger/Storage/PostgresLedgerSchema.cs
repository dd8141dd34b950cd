namespace Bulwark.Ledger.Storage;

/// <summary>
/// The ledger's PostgreSQL schema (<c>ledger</c>), as numbered migrations (never edit a released
/// one; add the next). It mirrors <see cref="SqliteLedgerSchema"/>: ids are <c>uuid</c> (16 bytes,
/// compared bytewise, written big-endian so byte order is numeric order), amounts <c>bigint</c>.
/// Accounts keep free space in every page (fillfactor 80) so that balance updates, which touch no
/// indexed column, are HOT updates. <c>writer_fence</c> is the first statement of every batch: it
/// share-locks the epoch row and aborts the batch when another writer has taken over since this
/// one loaded its cache (see docs/internals/ledger-postgres.md).
/// </summary>
internal static class PostgresLedgerSchema
{
    public const string Schema = "ledger";

    /// <summary>The SQLSTATE writer_fence raises.</summary>
    public const string FencedSqlState = "BWL01";

    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE ledger_meta (
            key text NOT NULL PRIMARY KEY,
            value bigint NOT NULL
        );
        INSERT INTO ledger_meta (key, value) VALUES ('writer_epoch', 0);

        CREATE TABLE accounts (
            id uuid NOT NULL PRIMARY KEY,
            partition integer NOT NULL,
            currency text NOT NULL CHECK (length(currency) = 3),
            flags bigint NOT NULL,
            overdraft_limit bigint NOT NULL CHECK (overdraft_limit >= 0),
            code bigint NOT NULL,
            debits_pending bigint NOT NULL CHECK (debits_pending >= 0),
            debits_posted bigint NOT NULL CHECK (debits_posted >= 0),
            credits_pending bigint NOT NULL CHECK (credits_pending >= 0),
            credits_posted bigint NOT NULL CHECK (credits_posted >= 0),
            created_at bigint NOT NULL
        ) WITH (fillfactor = 80);

        CREATE TABLE transfers (
            sequence bigint NOT NULL PRIMARY KEY,
            id uuid NOT NULL UNIQUE,
            partition integer NOT NULL,
            debit_account_id uuid NOT NULL,
            credit_account_id uuid NOT NULL,
            amount bigint NOT NULL CHECK (amount >= 0),
            currency text NOT NULL,
            pending_id uuid,
            flags bigint NOT NULL,
            timeout_seconds bigint NOT NULL,
            code bigint NOT NULL,
            metadata text,
            timestamp bigint NOT NULL,
            state bigint NOT NULL,
            posted_amount bigint NOT NULL CHECK (posted_amount >= 0),
            expires_at bigint NOT NULL
        );

        CREATE INDEX transfers_debit ON transfers (debit_account_id, sequence);
        CREATE INDEX transfers_credit ON transfers (credit_account_id, sequence);
        CREATE INDEX transfers_pending_expiry ON transfers (expires_at) WHERE state = 2 AND expires_at > 0;

        CREATE FUNCTION writer_fence(expected bigint) RETURNS void LANGUAGE plpgsql AS $fence$
        DECLARE
            current_epoch bigint;
        BEGIN
            SELECT value INTO current_epoch FROM ledger.ledger_meta WHERE key = 'writer_epoch' FOR SHARE;
            IF current_epoch IS DISTINCT FROM expected THEN
                RAISE EXCEPTION 'ledger writer epoch % is no longer current (now %): another writer took over this ledger', expected, current_epoch
                    USING ERRCODE = 'BWL01';
            END IF;
        END
        $fence$;
        """,
        // Cells (docs/internals/cells.md): a transfer between partitions is two rows with one id,
        // told apart by `leg`, so rows are unique by (id, leg) instead of id. Adding a NOT NULL
        // column with a constant default rewrites nothing (every existing row reads as leg 0,
        // WHOLE); the new unique index is built before the old one is dropped so that the table
        // is never without a uniqueness guarantee (one transaction either way). `transfers_id_key`
        // is the name PostgreSQL gave migration 1's `UNIQUE` on `id`. The cell's identity and
        // ownership table, and the credit legs it owes other cells, are new; the partial index
        // holds only open owed legs, which is what the delivery loop reads.
        """
        ALTER TABLE transfers ADD COLUMN leg smallint NOT NULL DEFAULT 0 CHECK (leg BETWEEN 0 AND 3);
        ALTER TABLE transfers ADD CONSTRAINT transfers_id_leg_key UNIQUE (id, leg);
        ALTER TABLE transfers DROP CONSTRAINT transfers_id_key;

        CREATE TABLE cell_identity (
            key text NOT NULL PRIMARY KEY,
            value text NOT NULL
        );

        CREATE TABLE partition_owners (
            partition integer NOT NULL PRIMARY KEY,
            epoch bigint NOT NULL CHECK (epoch >= 1),
            state integer NOT NULL CHECK (state BETWEEN 1 AND 3),
            owner_cell text NOT NULL DEFAULT '',
            owner_epoch bigint NOT NULL DEFAULT 0
        );

        CREATE TABLE credit_legs_owed (
            id uuid NOT NULL PRIMARY KEY,
            partition integer NOT NULL,
            credit_partition integer NOT NULL,
            debit_account_id uuid NOT NULL,
            credit_account_id uuid NOT NULL,
            amount bigint NOT NULL CHECK (amount > 0),
            currency text NOT NULL,
            code bigint NOT NULL,
            metadata text,
            created_at bigint NOT NULL,
            state integer NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2)
        );
        CREATE INDEX credit_legs_owed_open ON credit_legs_owed (created_at) WHERE state = 0;
        """,
        // Moving partitions (docs/internals/cells.md), as SQLite's migration 4: a pause ends by
        // itself at its lease; a copy being imported has a record (its source, the source's
        // sequence it caught up to, and once verified the digest it matched).
        //
        // No index on transfers (partition): every index on transfers is one more B-tree insert
        // and its WAL per transfer row, in every batch, for the life of the ledger, while a move
        // is rare and runs beside the writer. Here the account-history indexes already carry
        // `sequence` as their second column, so a partition's rows are found through its accounts
        // (as debit account its WHOLE, DEBIT and RETURN rows, as credit account its CREDIT legs)
        // as one index range per account, above a watermark when catching up. Accounts by
        // partition cost nothing per transfer: an account row is inserted once, and `partition`
        // never changes, so balance updates stay HOT. Owed legs by partition cost one entry per
        // transfer between cells (not per transfer); without it a digest or a deletion would read
        // every owed leg the cell ever recorded.
        """
        ALTER TABLE partition_owners ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;
        CREATE TABLE partition_imports (
            partition integer NOT NULL PRIMARY KEY,
            source_cell text NOT NULL,
            source_epoch bigint NOT NULL CHECK (source_epoch >= 1),
            watermark bigint NOT NULL CHECK (watermark >= 0),
            state integer NOT NULL CHECK (state BETWEEN 1 AND 2),
            digest bytea
        );
        CREATE INDEX accounts_partition ON accounts (partition);
        CREATE INDEX credit_legs_owed_partition ON credit_legs_owed (partition);
        """,
        // The event log's outbox, as SQLite's migration 5: one row per event, written in the
        // batch's transaction, read by the relay in cell_sequence order. The relay's watermark is
        // ledger_meta 'outbox_watermark'.
        """
        CREATE TABLE ledger_outbox (
            cell_sequence bigint NOT NULL PRIMARY KEY,
            partition integer NOT NULL CHECK (partition >= 0),
            partition_sequence bigint NOT NULL CHECK (partition_sequence >= 1),
            kind integer NOT NULL,
            committed_at bigint NOT NULL,
            payload bytea NOT NULL
        );
        INSERT INTO ledger_meta (key, value) VALUES ('outbox_watermark', 0);
        """,
        // As SQLite's migration 6: the verified copy keeps the source's last event sequence of the partition.
        """
        ALTER TABLE partition_imports ADD COLUMN event_sequence bigint NOT NULL DEFAULT 0 CHECK (event_sequence >= 0);
        """,
        // As SQLite's migration 7: a copy's pending holds, found without reading the partition's history.
        """
        CREATE INDEX transfers_pending ON transfers (partition) WHERE state = 2;
        """,
    ];

    /// <summary>The columns every transfer query selects, in the order <see cref="PostgresLedgerStore.ReadTransfer"/> maps them.</summary>
    public const string TransferColumns =
        "sequence, id, debit_account_id, credit_account_id, amount, currency, pending_id, flags, " +
        "timeout_seconds, code, metadata, timestamp, state, posted_amount, expires_at, leg";

    /// <summary>The columns every owed-leg query selects, in the order <see cref="PostgresLedgerStore.ReadOwedLeg"/> maps them.</summary>
    public const string OwedLegColumns =
        "id, partition, debit_account_id, credit_account_id, amount, currency, code, metadata, created_at, state";

    public const string AccountColumns =
        "id, currency, flags, overdraft_limit, code, debits_pending, debits_posted, credits_pending, " +
        "credits_posted, created_at";
}
