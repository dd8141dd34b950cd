using System.Globalization;
using Bulwark.Storage.Postgres;
using Npgsql;

namespace Bulwark.Accounts.Storage;

/// <summary>
/// The accounts store on PostgreSQL, in schema <c>accounts</c> (migrated at start, a newer schema
/// refused). Unlike SQLite, PostgreSQL runs writers concurrently, so every check-then-insert takes
/// transaction-scoped advisory locks on the keys it checks (the email, the account number, the
/// customer for pot and card limits, the PAN token) before checking: two racing creations
/// serialise and the second sees the first. UNIQUE constraints stay behind them as the last word.
/// </summary>
public sealed class PostgresAccountsStore : IAccountsStore, IDisposable
{
    public const string Schema = "accounts";
    private const string CustomerColumns = "customer_id, name, email, email_normalised, created_at_unix_ms, synthetic";
    private const string CredentialColumns = "customer_id, algorithm, iterations, salt, hash, updated_at_unix_ms";
    private const string AccountColumns = "account_id, customer_id, name, sort_code, account_number, currency, overdraft_limit, ledger_account_id, created_at_unix_ms";

    /// <summary>What is read of an account: the columns written at its creation and its block, set later.</summary>
    private const string AccountReadColumns = AccountColumns + ", blocked, blocked_reason";
    private const string PotColumns = "pot_id, customer_id, account_id, name, currency, ledger_account_id, goal_amount, created_at_unix_ms";
    private const string CardColumns = "card_id, customer_id, account_id, pan_token, last_four, expiry_month, expiry_year, frozen, created_at_unix_ms";

    /// <summary>What is read of a card: the columns written at its issue and the staff's freeze, set later.</summary>
    private const string CardReadColumns = CardColumns + ", frozen_by_staff";
    private const string MovementColumns = "idempotency_key, customer_id, kind, request_fingerprint, amount, currency, timestamp_unix_ms";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE customers (
            customer_id text PRIMARY KEY,
            name text NOT NULL,
            email text NOT NULL,
            email_normalised text NOT NULL UNIQUE,
            created_at_unix_ms bigint NOT NULL
        );
        CREATE TABLE credentials (
            customer_id text PRIMARY KEY REFERENCES customers (customer_id),
            algorithm text NOT NULL,
            iterations bigint NOT NULL,
            salt bytea NOT NULL,
            hash bytea NOT NULL,
            updated_at_unix_ms bigint NOT NULL
        );
        CREATE TABLE current_accounts (
            account_id text PRIMARY KEY,
            customer_id text NOT NULL REFERENCES customers (customer_id),
            name text NOT NULL,
            sort_code text NOT NULL,
            account_number text NOT NULL,
            currency text NOT NULL,
            overdraft_limit bigint NOT NULL CHECK (overdraft_limit >= 0),
            ledger_account_id text NOT NULL UNIQUE,
            created_at_unix_ms bigint NOT NULL,
            UNIQUE (sort_code, account_number)
        );
        CREATE INDEX current_accounts_by_customer ON current_accounts (customer_id);
        CREATE TABLE pots (
            pot_id text PRIMARY KEY,
            customer_id text NOT NULL REFERENCES customers (customer_id),
            account_id text NOT NULL REFERENCES current_accounts (account_id),
            name text NOT NULL,
            currency text NOT NULL,
            ledger_account_id text NOT NULL UNIQUE,
            goal_amount bigint NOT NULL CHECK (goal_amount >= 0),
            created_at_unix_ms bigint NOT NULL
        );
        CREATE INDEX pots_by_customer ON pots (customer_id);
        CREATE TABLE cards (
            card_id text PRIMARY KEY,
            customer_id text NOT NULL REFERENCES customers (customer_id),
            account_id text NOT NULL REFERENCES current_accounts (account_id),
            pan_token text NOT NULL UNIQUE,
            last_four text NOT NULL,
            expiry_month bigint NOT NULL,
            expiry_year bigint NOT NULL,
            frozen bigint NOT NULL,
            created_at_unix_ms bigint NOT NULL
        );
        CREATE INDEX cards_by_customer ON cards (customer_id);
        CREATE TABLE money_movements (
            idempotency_key text PRIMARY KEY,
            customer_id text NOT NULL,
            kind text NOT NULL,
            request_fingerprint text NOT NULL,
            amount bigint NOT NULL,
            currency text NOT NULL,
            timestamp_unix_ms bigint NOT NULL
        );
        """,
        """
        CREATE TABLE settings (
            name text PRIMARY KEY,
            value text NOT NULL
        );
        """,
        // Issue 11: a customer's idempotency key is no longer the ledger transfer id; this maps
        // one to the other, written before the transfer is sent.
        """
        CREATE TABLE movement_keys (
            customer_id text NOT NULL,
            idempotency_key text NOT NULL,
            transfer_id text NOT NULL UNIQUE,
            created_at_unix_ms bigint NOT NULL,
            PRIMARY KEY (customer_id, idempotency_key)
        );
        """,
        // Logout: revoked customer token ids, kept until the token expires.
        """
        CREATE TABLE revoked_tokens (
            token_id text PRIMARY KEY,
            customer_id text NOT NULL,
            expires_at_unix_ms bigint NOT NULL,
            revoked_at_unix_ms bigint NOT NULL
        );
        CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at_unix_ms);
        """,
        // Issue 13: the coherence checker's synthetic customers, real records that no customer list shows.
        """
        ALTER TABLE customers ADD COLUMN synthetic boolean NOT NULL DEFAULT false;
        """,
        // Issue 14: the staff console finds a customer by a card's last four digits.
        """
        CREATE INDEX cards_by_last_four ON cards (last_four);
        """,
        // Issue 14: staff block an account (no money leaves it).
        """
        ALTER TABLE current_accounts ADD COLUMN blocked bigint NOT NULL DEFAULT 0;
        ALTER TABLE current_accounts ADD COLUMN blocked_reason text NOT NULL DEFAULT '';
        """,
        // Issue 14: a freeze by staff, which the customer cannot undo.
        """
        ALTER TABLE cards ADD COLUMN frozen_by_staff bigint NOT NULL DEFAULT 0;
        """,
        // Issue 14: what each approved refund claimed of the transfer it refunds.
        """
        CREATE TABLE refund_claims (
            approval_id text PRIMARY KEY,
            original_transfer_id text NOT NULL,
            amount bigint NOT NULL,
            created_at_unix_ms bigint NOT NULL
        );
        CREATE INDEX refund_claims_by_original ON refund_claims (original_transfer_id);
        """,
    ];

    private readonly NpgsqlDataSource _dataSource;

    public PostgresAccountsStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = Schema, MaxAutoPrepare = 32, AutoPrepareMinUsages = 2 });
        using var connection = PostgresConnections.Open(_dataSource);
        PostgresMigrator.Apply(connection, Schema, Migrations);
    }

    public void Dispose() => _dataSource.Dispose();

    public async Task<CreateCustomerOutcome> CreateCustomerAsync(CustomerRecord customer, CredentialRecord? credential, CurrentAccountRecord account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(customer);
        ArgumentNullException.ThrowIfNull(account);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LockAsync(connection, transaction, "email:" + customer.EmailNormalised, cancellationToken);
        await LockAsync(connection, transaction, "number:" + account.SortCode + account.AccountNumber, cancellationToken);
        if (await ExistsAsync(connection, transaction, "SELECT 1 FROM customers WHERE email_normalised = $1", [customer.EmailNormalised], cancellationToken))
        {
            return CreateCustomerOutcome.EmailTaken;
        }
        if (await ExistsAsync(connection, transaction, "SELECT 1 FROM current_accounts WHERE sort_code = $1 AND account_number = $2", [account.SortCode, account.AccountNumber], cancellationToken))
        {
            return CreateCustomerOutcome.AccountNumberTaken;
        }
        await InsertAsync(connection, transaction, "customers", CustomerColumns,
            [customer.CustomerId, customer.Name, customer.Email, customer.EmailNormalised, customer.CreatedAtUnixMs, customer.Synthetic], cancellationToken);
        if (credential is not null)
        {
            await InsertAsync(connection, transaction, "credentials", CredentialColumns, CredentialValues(credential), cancellationToken);
        }
        await InsertAsync(connection, transaction, "current_accounts", AccountColumns,
            [account.AccountId, account.CustomerId, account.Name, account.SortCode, account.AccountNumber, account.Currency,
             account.OverdraftLimit, account.LedgerAccountId, account.CreatedAtUnixMs], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return CreateCustomerOutcome.Created;
    }

    public async Task<string> GetOrAddSettingAsync(string name, string value, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using (var insert = Command(connection, null, "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [name, value]))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var query = Command(connection, null, "SELECT value FROM settings WHERE name = $1", [name]);
        return (string)(await query.ExecuteScalarAsync(cancellationToken))!;
    }

    public Task<CustomerRecord?> GetCustomerAsync(string customerId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CustomerColumns} FROM customers WHERE customer_id = $1", [customerId], ReadCustomer, cancellationToken);

    public Task<CustomerRecord?> FindCustomerByEmailAsync(string emailNormalised, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CustomerColumns} FROM customers WHERE email_normalised = $1", [emailNormalised], ReadCustomer, cancellationToken);

    public async Task<IReadOnlyList<CustomerRecord>> ListCustomersAsync(string? afterCustomerId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // The primary key's index serves both the range and the order (in the column's collation,
        // which orders lowercase UUIDs as SQLite does): a page costs its own rows only.
        await using var command = Command(connection, null,
            $"SELECT {CustomerColumns} FROM customers WHERE NOT synthetic AND customer_id > $1 ORDER BY customer_id LIMIT $2", [afterCustomerId ?? "", (long)limit]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var customers = new List<CustomerRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            customers.Add(ReadCustomer(reader));
        }
        return customers;
    }

    public async Task<IReadOnlyList<CustomerRecord>> SearchCustomersAsync(CustomerQuery query, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Typed parameters: PostgreSQL cannot infer the type of a parameter only compared with NULL.
        await using var command = Command(connection, null, $"""
            SELECT {CustomerColumns} FROM customers
             WHERE NOT synthetic
              AND ($1::text IS NULL OR lower(name) LIKE $1::text ESCAPE '\')
              AND ($2::text IS NULL OR email_normalised LIKE $2::text ESCAPE '\')
              AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM current_accounts a WHERE a.customer_id = customers.customer_id AND a.sort_code = $3::text AND a.account_number = $4::text))
              AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM cards k WHERE k.customer_id = customers.customer_id AND k.last_four = $5::text))
            ORDER BY name, customer_id LIMIT $6
            """, [(object?)CustomerQuery.ContainsPattern(query.NameContains?.ToLowerInvariant()) ?? DBNull.Value, (object?)CustomerQuery.ContainsPattern(query.EmailContains?.ToLowerInvariant()) ?? DBNull.Value,
            (object?)query.SortCode ?? DBNull.Value, (object?)query.AccountNumber ?? DBNull.Value, (object?)query.CardLastFour ?? DBNull.Value, (long)limit]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var customers = new List<CustomerRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            customers.Add(ReadCustomer(reader));
        }
        return customers;
    }

    public Task<CredentialRecord?> GetCredentialAsync(string customerId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CredentialColumns} FROM credentials WHERE customer_id = $1", [customerId], ReadCredential, cancellationToken);

    public async Task SetCredentialAsync(CredentialRecord credential, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credential);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"INSERT INTO credentials ({CredentialColumns}) VALUES ($1, $2, $3, $4, $5, $6) " +
            "ON CONFLICT (customer_id) DO UPDATE SET algorithm = excluded.algorithm, iterations = excluded.iterations, " +
            "salt = excluded.salt, hash = excluded.hash, updated_at_unix_ms = excluded.updated_at_unix_ms", CredentialValues(credential));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<CurrentAccountRecord?> GetCurrentAccountAsync(string accountId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {AccountReadColumns} FROM current_accounts WHERE account_id = $1", [accountId], ReadAccount, cancellationToken);

    public Task<CurrentAccountRecord?> FindCurrentAccountByNumberAsync(string sortCode, string accountNumber, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {AccountReadColumns} FROM current_accounts WHERE sort_code = $1 AND account_number = $2", [sortCode, accountNumber], ReadAccount, cancellationToken);

    public Task<IReadOnlyList<CurrentAccountRecord>> ListCurrentAccountsAsync(string customerId, CancellationToken cancellationToken) =>
        QueryListAsync($"SELECT {AccountReadColumns} FROM current_accounts WHERE customer_id = $1 ORDER BY created_at_unix_ms, account_id", customerId, ReadAccount, cancellationToken);

    public async Task<CreateLimitedOutcome> CreatePotAsync(PotRecord pot, int potsPerCustomerMax, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pot);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LockAsync(connection, transaction, "pots:" + pot.CustomerId, cancellationToken);
        if (await CountAsync(connection, transaction, "SELECT COUNT(*) FROM pots WHERE customer_id = $1", pot.CustomerId, cancellationToken) >= potsPerCustomerMax)
        {
            return CreateLimitedOutcome.LimitReached;
        }
        await InsertAsync(connection, transaction, "pots", PotColumns,
            [pot.PotId, pot.CustomerId, pot.AccountId, pot.Name, pot.Currency, pot.LedgerAccountId, pot.GoalAmount, pot.CreatedAtUnixMs], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return CreateLimitedOutcome.Created;
    }

    public Task<PotRecord?> GetPotAsync(string potId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {PotColumns} FROM pots WHERE pot_id = $1", [potId], ReadPot, cancellationToken);

    public Task<IReadOnlyList<PotRecord>> ListPotsAsync(string customerId, CancellationToken cancellationToken) =>
        QueryListAsync($"SELECT {PotColumns} FROM pots WHERE customer_id = $1 ORDER BY created_at_unix_ms, pot_id", customerId, ReadPot, cancellationToken);

    public async Task<CreateLimitedOutcome> CreateCardAsync(CardRecord card, int cardsPerCustomerMax, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(card);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LockAsync(connection, transaction, "token:" + card.PanToken, cancellationToken);
        await LockAsync(connection, transaction, "cards:" + card.CustomerId, cancellationToken);
        if (await ExistsAsync(connection, transaction, "SELECT 1 FROM cards WHERE pan_token = $1", [card.PanToken], cancellationToken))
        {
            return CreateLimitedOutcome.AlreadyExists;
        }
        if (await CountAsync(connection, transaction, "SELECT COUNT(*) FROM cards WHERE customer_id = $1", card.CustomerId, cancellationToken) >= cardsPerCustomerMax)
        {
            return CreateLimitedOutcome.LimitReached;
        }
        await InsertAsync(connection, transaction, "cards", CardColumns,
            [card.CardId, card.CustomerId, card.AccountId, card.PanToken, card.LastFour, (long)card.ExpiryMonth, (long)card.ExpiryYear, card.Frozen ? 1L : 0L, card.CreatedAtUnixMs],
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return CreateLimitedOutcome.Created;
    }

    public Task<CardRecord?> GetCardAsync(string cardId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CardReadColumns} FROM cards WHERE card_id = $1", [cardId], ReadCard, cancellationToken);

    public Task<CardRecord?> FindCardByTokenAsync(string panToken, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CardReadColumns} FROM cards WHERE pan_token = $1", [panToken], ReadCard, cancellationToken);

    public Task<IReadOnlyList<CardRecord>> ListCardsAsync(string customerId, CancellationToken cancellationToken) =>
        QueryListAsync($"SELECT {CardReadColumns} FROM cards WHERE customer_id = $1 ORDER BY created_at_unix_ms, card_id", customerId, ReadCard, cancellationToken);

    public async Task<bool> SetAccountBlockedAsync(string accountId, bool blocked, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "UPDATE current_accounts SET blocked = $1, blocked_reason = $2 WHERE account_id = $3", [blocked ? 1L : 0L, reason, accountId]);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> SetCardFrozenAsync(string cardId, bool frozen, bool byStaff, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var sql = !byStaff ? "UPDATE cards SET frozen = $1 WHERE card_id = $2"
            : frozen ? "UPDATE cards SET frozen_by_staff = $1 WHERE card_id = $2"
            : "UPDATE cards SET frozen_by_staff = $1, frozen = $1 WHERE card_id = $2";
        await using var command = Command(connection, null, sql, [frozen ? 1L : 0L, cardId]);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<MovementRecord?> GetMovementAsync(string transferId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {MovementColumns} FROM money_movements WHERE idempotency_key = $1", [transferId], ReadMovement, cancellationToken);

    public async Task<bool> HasMovementsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT 1 FROM money_movements LIMIT 1", []);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<IReadOnlyList<MovementRecord>> ListMovementsAsync(string? afterTransferId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // The primary key's index serves both the range and the order (lowercase hex ids order alike in every collation).
        await using var command = Command(connection, null,
            $"SELECT {MovementColumns} FROM money_movements WHERE idempotency_key > $1 ORDER BY idempotency_key LIMIT $2", [afterTransferId ?? "", (long)limit]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var movements = new List<MovementRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            movements.Add(ReadMovement(reader));
        }
        return movements;
    }

    public async Task<string?> FindMovementTransferIdAsync(string customerId, string idempotencyKey, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT transfer_id FROM movement_keys WHERE customer_id = $1 AND idempotency_key = $2", [customerId, idempotencyKey]);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<string> GetOrAddMovementTransferIdAsync(string customerId, string idempotencyKey, string transferId, long createdAtUnixMs, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using (var insert = Command(connection, null,
            "INSERT INTO movement_keys (customer_id, idempotency_key, transfer_id, created_at_unix_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id, idempotency_key) DO NOTHING",
            [customerId, idempotencyKey, transferId, createdAtUnixMs]))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var query = Command(connection, null, "SELECT transfer_id FROM movement_keys WHERE customer_id = $1 AND idempotency_key = $2", [customerId, idempotencyKey]);
        return (string)(await query.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<MovementRecord> RecordMovementAsync(MovementRecord movement, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(movement);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = Command(connection, transaction,
            $"INSERT INTO money_movements ({MovementColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING",
            [movement.TransferId, movement.CustomerId, movement.Kind, movement.RequestFingerprint, movement.Amount, movement.Currency, movement.TimestampUnixMs]))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        MovementRecord stored;
        await using (var query = Command(connection, transaction, $"SELECT {MovementColumns} FROM money_movements WHERE idempotency_key = $1", [movement.TransferId]))
        await using (var reader = await query.ExecuteReaderAsync(cancellationToken))
        {
            stored = await reader.ReadAsync(cancellationToken) ? ReadMovement(reader) : throw new InvalidOperationException("A movement just written cannot be read back.");
        }
        await transaction.CommitAsync(cancellationToken);
        return stored;
    }

    public async Task<RefundClaimResult> ClaimRefundAsync(RefundClaim claim, long refundable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One original's claims are taken one at a time (a lock held to the transaction's end), so
        // two refunds of the same payment cannot both read the same sum.
        await using (var lockOriginal = Command(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended($1, 14))", [claim.OriginalTransferId]))
        {
            await lockOriginal.ExecuteNonQueryAsync(cancellationToken);
        }
        RefundClaim? existing = null;
        await using (var query = Command(connection, transaction, "SELECT original_transfer_id, amount, created_at_unix_ms FROM refund_claims WHERE approval_id = $1", [claim.ApprovalId]))
        await using (var reader = await query.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                existing = new RefundClaim(claim.ApprovalId, reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2));
            }
        }
        long before;
        await using (var sum = Command(connection, transaction,
            "SELECT COALESCE(SUM(amount), 0)::bigint FROM refund_claims WHERE original_transfer_id = $1 AND approval_id <> $2", [claim.OriginalTransferId, claim.ApprovalId]))
        {
            before = (long)(await sum.ExecuteScalarAsync(cancellationToken))!;
        }
        if (existing is not null)
        {
            await transaction.CommitAsync(cancellationToken);
            return new RefundClaimResult(existing.OriginalTransferId == claim.OriginalTransferId && existing.Amount == claim.Amount, existing, before);
        }
        if (before + claim.Amount > refundable)
        {
            await transaction.CommitAsync(cancellationToken);
            return new RefundClaimResult(false, null, before);
        }
        await using (var insert = Command(connection, transaction,
            "INSERT INTO refund_claims (approval_id, original_transfer_id, amount, created_at_unix_ms) VALUES ($1, $2, $3, $4)",
            [claim.ApprovalId, claim.OriginalTransferId, claim.Amount, claim.CreatedAtUnixMs]))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new RefundClaimResult(true, claim, before);
    }

    public async Task ReleaseRefundClaimAsync(string approvalId, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "DELETE FROM refund_claims WHERE approval_id = $1", [approvalId]);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task RevokeTokenAsync(RevokedTokenRecord token, long nowUnixMs, int purgeMax, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using (var insert = Command(connection, null,
            "INSERT INTO revoked_tokens (token_id, customer_id, expires_at_unix_ms, revoked_at_unix_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (token_id) DO NOTHING",
            [token.TokenId, token.CustomerId, token.ExpiresAtUnixMs, token.RevokedAtUnixMs]))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var purge = Command(connection, null,
            "DELETE FROM revoked_tokens WHERE token_id IN (SELECT token_id FROM revoked_tokens WHERE expires_at_unix_ms < $1 ORDER BY expires_at_unix_ms LIMIT $2)",
            [nowUnixMs, (long)purgeMax]);
        await purge.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> IsTokenRevokedAsync(string tokenId, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT 1 FROM revoked_tokens WHERE token_id = $1", [tokenId]);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static object[] CredentialValues(CredentialRecord credential) =>
        [credential.CustomerId, credential.Algorithm, (long)credential.Iterations, credential.Salt, credential.Hash, credential.UpdatedAtUnixMs];

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object[] values)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
        return command;
    }

    private static async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["accounts:" + key]);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, string columns, object[] values, CancellationToken cancellationToken)
    {
        var parameters = string.Join(", ", Enumerable.Range(1, values.Length).Select(i => "$" + i.ToString(CultureInfo.InvariantCulture)));
        await using var command = Command(connection, transaction, $"INSERT INTO {table} ({columns}) VALUES ({parameters})", values);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, object[] values, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, values);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static async Task<long> CountAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, string a, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, [a]);
        return await command.ExecuteScalarAsync(cancellationToken) is long count ? count : 0;
    }

    private async Task<T?> QuerySingleAsync<T>(string sql, object[] values, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
        where T : class
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, sql, values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? read(reader) : null;
    }

    private async Task<IReadOnlyList<T>> QueryListAsync<T>(string sql, string a, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, null, sql, [a]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(read(reader));
        }
        return list;
    }

    private static CustomerRecord ReadCustomer(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4), reader.GetBoolean(5));

    private static CredentialRecord ReadCredential(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), checked((int)reader.GetInt64(2)), (byte[])reader.GetValue(3), (byte[])reader.GetValue(4), reader.GetInt64(5));

    private static CurrentAccountRecord ReadAccount(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            reader.GetString(5), reader.GetInt64(6), reader.GetString(7), reader.GetInt64(8), reader.GetInt64(9) != 0, reader.GetString(10));

    private static PotRecord ReadPot(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            reader.GetString(5), reader.GetInt64(6), reader.GetInt64(7));

    private static CardRecord ReadCard(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            checked((int)reader.GetInt64(5)), checked((int)reader.GetInt64(6)), reader.GetInt64(7) != 0, reader.GetInt64(8), reader.GetInt64(9) != 0);

    private static MovementRecord ReadMovement(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
            reader.GetString(5), reader.GetInt64(6));
}
