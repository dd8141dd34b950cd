using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Accounts.Storage;

/// <summary>
/// The embedded accounts store: one SQLite file (WAL, synchronous FULL). Uniqueness rules are
/// checked and written inside one IMMEDIATE transaction (SQLite has one writer at a time, so the
/// check cannot race), with UNIQUE constraints behind them as the last word.
/// </summary>
public sealed class SqliteAccountsStore : IAccountsStore
{
    public const string StoreName = "accounts";

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
            customer_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            email_normalised TEXT NOT NULL UNIQUE,
            created_at_unix_ms INTEGER NOT NULL
        );
        CREATE TABLE credentials (
            customer_id TEXT PRIMARY KEY REFERENCES customers (customer_id),
            algorithm TEXT NOT NULL,
            iterations INTEGER NOT NULL,
            salt BLOB NOT NULL,
            hash BLOB NOT NULL,
            updated_at_unix_ms INTEGER NOT NULL
        );
        CREATE TABLE current_accounts (
            account_id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers (customer_id),
            name TEXT NOT NULL,
            sort_code TEXT NOT NULL,
            account_number TEXT NOT NULL,
            currency TEXT NOT NULL,
            overdraft_limit INTEGER NOT NULL CHECK (overdraft_limit >= 0),
            ledger_account_id TEXT NOT NULL UNIQUE,
            created_at_unix_ms INTEGER NOT NULL,
            UNIQUE (sort_code, account_number)
        );
        CREATE INDEX current_accounts_by_customer ON current_accounts (customer_id);
        CREATE TABLE pots (
            pot_id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers (customer_id),
            account_id TEXT NOT NULL REFERENCES current_accounts (account_id),
            name TEXT NOT NULL,
            currency TEXT NOT NULL,
            ledger_account_id TEXT NOT NULL UNIQUE,
            goal_amount INTEGER NOT NULL CHECK (goal_amount >= 0),
            created_at_unix_ms INTEGER NOT NULL
        );
        CREATE INDEX pots_by_customer ON pots (customer_id);
        CREATE TABLE cards (
            card_id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers (customer_id),
            account_id TEXT NOT NULL REFERENCES current_accounts (account_id),
            pan_token TEXT NOT NULL UNIQUE,
            last_four TEXT NOT NULL,
            expiry_month INTEGER NOT NULL,
            expiry_year INTEGER NOT NULL,
            frozen INTEGER NOT NULL,
            created_at_unix_ms INTEGER NOT NULL
        );
        CREATE INDEX cards_by_customer ON cards (customer_id);
        CREATE TABLE money_movements (
            idempotency_key TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            request_fingerprint TEXT NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL,
            timestamp_unix_ms INTEGER NOT NULL
        );
        """,
        """
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
        // Issue 11: a customer's idempotency key is no longer the ledger transfer id; this maps
        // one to the other, written before the transfer is sent.
        """
        CREATE TABLE movement_keys (
            customer_id TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            transfer_id TEXT NOT NULL UNIQUE,
            created_at_unix_ms INTEGER NOT NULL,
            PRIMARY KEY (customer_id, idempotency_key)
        );
        """,
        // Logout: revoked customer token ids, kept until the token expires.
        """
        CREATE TABLE revoked_tokens (
            token_id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL,
            expires_at_unix_ms INTEGER NOT NULL,
            revoked_at_unix_ms INTEGER NOT NULL
        );
        CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at_unix_ms);
        """,
        // Issue 13: the coherence checker's synthetic customers, real records that no customer list shows.
        """
        ALTER TABLE customers ADD COLUMN synthetic INTEGER NOT NULL DEFAULT 0;
        """,
        // Issue 14: the staff console finds a customer by a card's last four digits.
        """
        CREATE INDEX cards_by_last_four ON cards (last_four);
        """,
        // Issue 14: staff block an account (no money leaves it).
        """
        ALTER TABLE current_accounts ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE current_accounts ADD COLUMN blocked_reason TEXT NOT NULL DEFAULT '';
        """,
        // Issue 14: a freeze by staff, which the customer cannot undo.
        """
        ALTER TABLE cards ADD COLUMN frozen_by_staff INTEGER NOT NULL DEFAULT 0;
        """,
        // Issue 14: what each approved refund claimed of the transfer it refunds.
        """
        CREATE TABLE refund_claims (
            approval_id TEXT PRIMARY KEY,
            original_transfer_id TEXT NOT NULL,
            amount INTEGER NOT NULL,
            created_at_unix_ms INTEGER NOT NULL
        );
        CREATE INDEX refund_claims_by_original ON refund_claims (original_transfer_id);
        """,
    ];

    private readonly SqliteDatabase _database;

    public SqliteAccountsStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        using var connection = _database.Open();
        SqliteMigrator.Apply(connection, StoreName, Migrations);
    }

    public async Task<CreateCustomerOutcome> CreateCustomerAsync(CustomerRecord customer, CredentialRecord? credential, CurrentAccountRecord account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(customer);
        ArgumentNullException.ThrowIfNull(account);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        if (await ExistsAsync(connection, transaction, "SELECT 1 FROM customers WHERE email_normalised = $a", customer.EmailNormalised, null, cancellationToken))
        {
            return CreateCustomerOutcome.EmailTaken;
        }
        if (await ExistsAsync(connection, transaction, "SELECT 1 FROM current_accounts WHERE sort_code = $a AND account_number = $b", account.SortCode, account.AccountNumber, cancellationToken))
        {
            return CreateCustomerOutcome.AccountNumberTaken;
        }
        await InsertAsync(connection, transaction, "customers", CustomerColumns,
            [customer.CustomerId, customer.Name, customer.Email, customer.EmailNormalised, customer.CreatedAtUnixMs, customer.Synthetic ? 1 : 0], cancellationToken);
        if (credential is not null)
        {
            await InsertAsync(connection, transaction, "credentials", CredentialColumns, CredentialValues(credential), cancellationToken);
        }
        await InsertAsync(connection, transaction, "current_accounts", AccountColumns,
            [account.AccountId, account.CustomerId, account.Name, account.SortCode, account.AccountNumber, account.Currency,
             account.OverdraftLimit, account.LedgerAccountId, account.CreatedAtUnixMs], cancellationToken);
        transaction.Commit();
        return CreateCustomerOutcome.Created;
    }

    public async Task<string> GetOrAddSettingAsync(string name, string value, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO settings (name, value) VALUES ($a, $b) ON CONFLICT (name) DO NOTHING; SELECT value FROM settings WHERE name = $a";
        command.Parameters.AddWithValue("$a", name);
        command.Parameters.AddWithValue("$b", value);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public Task<CustomerRecord?> GetCustomerAsync(string customerId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CustomerColumns} FROM customers WHERE customer_id = $a", customerId, null, ReadCustomer, cancellationToken);

    public Task<CustomerRecord?> FindCustomerByEmailAsync(string emailNormalised, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CustomerColumns} FROM customers WHERE email_normalised = $a", emailNormalised, null, ReadCustomer, cancellationToken);

    public async Task<IReadOnlyList<CustomerRecord>> ListCustomersAsync(string? afterCustomerId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        // The primary key's index serves both the range and the order: a page costs its own rows only.
        command.CommandText = $"SELECT {CustomerColumns} FROM customers WHERE synthetic = 0 AND customer_id > $a ORDER BY customer_id LIMIT $b";
        command.Parameters.AddWithValue("$a", afterCustomerId ?? "");
        command.Parameters.AddWithValue("$b", limit);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
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
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        // SQLite's LIKE ignores the case of ASCII letters; names and emails are matched on lower case for the rest.
        command.CommandText = $"""
            SELECT {CustomerColumns} FROM customers
             WHERE synthetic = 0
              AND ($p0 IS NULL OR lower(name) LIKE $p0 ESCAPE '\')
              AND ($p1 IS NULL OR email_normalised LIKE $p1 ESCAPE '\')
              AND ($p2 IS NULL OR EXISTS (SELECT 1 FROM current_accounts a WHERE a.customer_id = customers.customer_id AND a.sort_code = $p2 AND a.account_number = $p3))
              AND ($p4 IS NULL OR EXISTS (SELECT 1 FROM cards k WHERE k.customer_id = customers.customer_id AND k.last_four = $p4))
            ORDER BY name, customer_id LIMIT $p5
            """;
        AddValues(command, [CustomerQuery.ContainsPattern(query.NameContains?.ToLowerInvariant()), CustomerQuery.ContainsPattern(query.EmailContains?.ToLowerInvariant()),
            query.SortCode, query.AccountNumber, query.CardLastFour, limit]);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var customers = new List<CustomerRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            customers.Add(ReadCustomer(reader));
        }
        return customers;
    }

    public Task<CredentialRecord?> GetCredentialAsync(string customerId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CredentialColumns} FROM credentials WHERE customer_id = $a", customerId, null, ReadCredential, cancellationToken);

    public async Task SetCredentialAsync(CredentialRecord credential, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credential);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO credentials ({CredentialColumns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5) " +
            "ON CONFLICT (customer_id) DO UPDATE SET algorithm = excluded.algorithm, iterations = excluded.iterations, " +
            "salt = excluded.salt, hash = excluded.hash, updated_at_unix_ms = excluded.updated_at_unix_ms";
        AddValues(command, CredentialValues(credential));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<CurrentAccountRecord?> GetCurrentAccountAsync(string accountId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {AccountReadColumns} FROM current_accounts WHERE account_id = $a", accountId, null, ReadAccount, cancellationToken);

    public Task<CurrentAccountRecord?> FindCurrentAccountByNumberAsync(string sortCode, string accountNumber, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {AccountReadColumns} FROM current_accounts WHERE sort_code = $a AND account_number = $b", sortCode, accountNumber, ReadAccount, cancellationToken);

    public Task<IReadOnlyList<CurrentAccountRecord>> ListCurrentAccountsAsync(string customerId, CancellationToken cancellationToken) =>
        QueryListAsync($"SELECT {AccountReadColumns} FROM current_accounts WHERE customer_id = $a ORDER BY created_at_unix_ms, account_id", customerId, ReadAccount, cancellationToken);

    public async Task<CreateLimitedOutcome> CreatePotAsync(PotRecord pot, int potsPerCustomerMax, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pot);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        if (await CountAsync(connection, transaction, "SELECT COUNT(*) FROM pots WHERE customer_id = $a", pot.CustomerId, cancellationToken) >= potsPerCustomerMax)
        {
            return CreateLimitedOutcome.LimitReached;
        }
        await InsertAsync(connection, transaction, "pots", PotColumns,
            [pot.PotId, pot.CustomerId, pot.AccountId, pot.Name, pot.Currency, pot.LedgerAccountId, pot.GoalAmount, pot.CreatedAtUnixMs], cancellationToken);
        transaction.Commit();
        return CreateLimitedOutcome.Created;
    }

    public Task<PotRecord?> GetPotAsync(string potId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {PotColumns} FROM pots WHERE pot_id = $a", potId, null, ReadPot, cancellationToken);

    public Task<IReadOnlyList<PotRecord>> ListPotsAsync(string customerId, CancellationToken cancellationToken) =>
        QueryListAsync($"SELECT {PotColumns} FROM pots WHERE customer_id = $a ORDER BY created_at_unix_ms, pot_id", customerId, ReadPot, cancellationToken);

    public async Task<CreateLimitedOutcome> CreateCardAsync(CardRecord card, int cardsPerCustomerMax, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(card);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        if (await ExistsAsync(connection, transaction, "SELECT 1 FROM cards WHERE pan_token = $a", card.PanToken, null, cancellationToken))
        {
            return CreateLimitedOutcome.AlreadyExists;
        }
        if (await CountAsync(connection, transaction, "SELECT COUNT(*) FROM cards WHERE customer_id = $a", card.CustomerId, cancellationToken) >= cardsPerCustomerMax)
        {
            return CreateLimitedOutcome.LimitReached;
        }
        await InsertAsync(connection, transaction, "cards", CardColumns,
            [card.CardId, card.CustomerId, card.AccountId, card.PanToken, card.LastFour, card.ExpiryMonth, card.ExpiryYear, card.Frozen ? 1 : 0, card.CreatedAtUnixMs],
            cancellationToken);
        transaction.Commit();
        return CreateLimitedOutcome.Created;
    }

    public Task<CardRecord?> GetCardAsync(string cardId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CardReadColumns} FROM cards WHERE card_id = $a", cardId, null, ReadCard, cancellationToken);

    public Task<CardRecord?> FindCardByTokenAsync(string panToken, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {CardReadColumns} FROM cards WHERE pan_token = $a", panToken, null, ReadCard, cancellationToken);

    public Task<IReadOnlyList<CardRecord>> ListCardsAsync(string customerId, CancellationToken cancellationToken) =>
        QueryListAsync($"SELECT {CardReadColumns} FROM cards WHERE customer_id = $a ORDER BY created_at_unix_ms, card_id", customerId, ReadCard, cancellationToken);

    public async Task<bool> SetAccountBlockedAsync(string accountId, bool blocked, string reason, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE current_accounts SET blocked = $p0, blocked_reason = $p1 WHERE account_id = $p2";
        AddValues(command, [blocked ? 1 : 0, reason, accountId]);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> SetCardFrozenAsync(string cardId, bool frozen, bool byStaff, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = !byStaff ? "UPDATE cards SET frozen = $p0 WHERE card_id = $p1"
            : frozen ? "UPDATE cards SET frozen_by_staff = $p0 WHERE card_id = $p1"
            : "UPDATE cards SET frozen_by_staff = $p0, frozen = $p0 WHERE card_id = $p1";
        AddValues(command, [frozen ? 1 : 0, cardId]);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<MovementRecord?> GetMovementAsync(string transferId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {MovementColumns} FROM money_movements WHERE idempotency_key = $a", transferId, null, ReadMovement, cancellationToken);

    public async Task<bool> HasMovementsAsync(CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM money_movements LIMIT 1";
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<IReadOnlyList<MovementRecord>> ListMovementsAsync(string? afterTransferId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        // The primary key's index serves both the range and the order: a page costs its own rows only.
        command.CommandText = $"SELECT {MovementColumns} FROM money_movements WHERE idempotency_key > $a ORDER BY idempotency_key LIMIT $b";
        command.Parameters.AddWithValue("$a", afterTransferId ?? "");
        command.Parameters.AddWithValue("$b", limit);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var movements = new List<MovementRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            movements.Add(ReadMovement(reader));
        }
        return movements;
    }

    public async Task<string?> FindMovementTransferIdAsync(string customerId, string idempotencyKey, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT transfer_id FROM movement_keys WHERE customer_id = $a AND idempotency_key = $b";
        command.Parameters.AddWithValue("$a", customerId);
        command.Parameters.AddWithValue("$b", idempotencyKey);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<string> GetOrAddMovementTransferIdAsync(string customerId, string idempotencyKey, string transferId, long createdAtUnixMs, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO movement_keys (customer_id, idempotency_key, transfer_id, created_at_unix_ms) VALUES ($a, $b, $c, $d)
                ON CONFLICT (customer_id, idempotency_key) DO NOTHING;
            SELECT transfer_id FROM movement_keys WHERE customer_id = $a AND idempotency_key = $b
            """;
        command.Parameters.AddWithValue("$a", customerId);
        command.Parameters.AddWithValue("$b", idempotencyKey);
        command.Parameters.AddWithValue("$c", transferId);
        command.Parameters.AddWithValue("$d", createdAtUnixMs);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<MovementRecord> RecordMovementAsync(MovementRecord movement, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(movement);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = $"INSERT INTO money_movements ({MovementColumns}) VALUES ($p0, $p1, $p2, $p3, $p4, $p5, $p6) ON CONFLICT (idempotency_key) DO NOTHING";
            AddValues(command, [movement.TransferId, movement.CustomerId, movement.Kind, movement.RequestFingerprint, movement.Amount, movement.Currency, movement.TimestampUnixMs]);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        using var query = connection.CreateCommand();
        query.Transaction = transaction;
        query.CommandText = $"SELECT {MovementColumns} FROM money_movements WHERE idempotency_key = $a";
        query.Parameters.AddWithValue("$a", movement.TransferId);
        using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var stored = await reader.ReadAsync(cancellationToken) ? ReadMovement(reader) : throw new InvalidOperationException("A movement just written cannot be read back.");
        reader.Close();
        transaction.Commit();
        return stored;
    }

    public async Task<RefundClaimResult> ClaimRefundAsync(RefundClaim claim, long refundable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        using var connection = _database.Open();
        // BEGIN IMMEDIATE: the store's write lock is taken first, so no other claim reads the same sum.
        using var transaction = connection.BeginTransaction();
        RefundClaim? existing = null;
        using (var query = connection.CreateCommand())
        {
            query.Transaction = transaction;
            query.CommandText = "SELECT original_transfer_id, amount, created_at_unix_ms FROM refund_claims WHERE approval_id = $a";
            query.Parameters.AddWithValue("$a", claim.ApprovalId);
            using var reader = await query.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                existing = new RefundClaim(claim.ApprovalId, reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2));
            }
        }
        long before;
        using (var sum = connection.CreateCommand())
        {
            sum.Transaction = transaction;
            sum.CommandText = "SELECT COALESCE(SUM(amount), 0) FROM refund_claims WHERE original_transfer_id = $o AND approval_id <> $a";
            sum.Parameters.AddWithValue("$o", claim.OriginalTransferId);
            sum.Parameters.AddWithValue("$a", claim.ApprovalId);
            before = Convert.ToInt64(await sum.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }
        if (existing is not null)
        {
            transaction.Commit();
            return new RefundClaimResult(existing.OriginalTransferId == claim.OriginalTransferId && existing.Amount == claim.Amount, existing, before);
        }
        if (before + claim.Amount > refundable)
        {
            transaction.Commit();
            return new RefundClaimResult(false, null, before);
        }
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO refund_claims (approval_id, original_transfer_id, amount, created_at_unix_ms) VALUES ($p0, $p1, $p2, $p3)";
            AddValues(insert, [claim.ApprovalId, claim.OriginalTransferId, claim.Amount, claim.CreatedAtUnixMs]);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        transaction.Commit();
        return new RefundClaimResult(true, claim, before);
    }

    public async Task ReleaseRefundClaimAsync(string approvalId, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM refund_claims WHERE approval_id = $a";
        command.Parameters.AddWithValue("$a", approvalId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static object[] CredentialValues(CredentialRecord credential) =>
        [credential.CustomerId, credential.Algorithm, credential.Iterations, credential.Salt, credential.Hash, credential.UpdatedAtUnixMs];

    private static void AddValues(SqliteCommand command, object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters.AddWithValue("$p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), values[i] ?? DBNull.Value);
        }
    }

    public async Task RevokeTokenAsync(RevokedTokenRecord token, long nowUnixMs, int purgeMax, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO revoked_tokens (token_id, customer_id, expires_at_unix_ms, revoked_at_unix_ms) VALUES ($p0, $p1, $p2, $p3) ON CONFLICT (token_id) DO NOTHING; " +
            "DELETE FROM revoked_tokens WHERE token_id IN (SELECT token_id FROM revoked_tokens WHERE expires_at_unix_ms < $p4 ORDER BY expires_at_unix_ms LIMIT $p5)";
        AddValues(command, [token.TokenId, token.CustomerId, token.ExpiresAtUnixMs, token.RevokedAtUnixMs, nowUnixMs, (long)purgeMax]);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> IsTokenRevokedAsync(string tokenId, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM revoked_tokens WHERE token_id = $a";
        command.Parameters.AddWithValue("$a", tokenId);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static async Task InsertAsync(SqliteConnection connection, SqliteTransaction transaction, string table, string columns, object[] values, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var parameters = string.Join(", ", Enumerable.Range(0, values.Length).Select(i => "$p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        command.CommandText = $"INSERT INTO {table} ({columns}) VALUES ({parameters})";
        AddValues(command, values);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<bool> ExistsAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, string a, string? b, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$a", a);
        if (b is not null)
        {
            command.Parameters.AddWithValue("$b", b);
        }
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static async Task<long> CountAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, string a, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$a", a);
        return await command.ExecuteScalarAsync(cancellationToken) is long count ? count : 0;
    }

    private async Task<T?> QuerySingleAsync<T>(string sql, string a, string? b, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
        where T : class
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$a", a);
        if (b is not null)
        {
            command.Parameters.AddWithValue("$b", b);
        }
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? read(reader) : null;
    }

    private async Task<IReadOnlyList<T>> QueryListAsync<T>(string sql, string a, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$a", a);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(read(reader));
        }
        return list;
    }

    private static CustomerRecord ReadCustomer(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5) != 0);

    private static CredentialRecord ReadCredential(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), (byte[])reader.GetValue(3), (byte[])reader.GetValue(4), reader.GetInt64(5));

    private static CurrentAccountRecord ReadAccount(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            reader.GetString(5), reader.GetInt64(6), reader.GetString(7), reader.GetInt64(8), reader.GetInt64(9) != 0, reader.GetString(10));

    private static PotRecord ReadPot(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            reader.GetString(5), reader.GetInt64(6), reader.GetInt64(7));

    private static CardRecord ReadCard(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
            reader.GetInt32(5), reader.GetInt32(6), reader.GetInt64(7) != 0, reader.GetInt64(8), reader.GetInt64(9) != 0);

    private static MovementRecord ReadMovement(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4),
            reader.GetString(5), reader.GetInt64(6));
}
