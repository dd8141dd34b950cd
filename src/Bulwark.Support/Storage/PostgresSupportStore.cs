using System.Globalization;
using Bulwark.Storage.Postgres;
using Npgsql;

namespace Bulwark.Support.Storage;

/// <summary>
/// The support store on PostgreSQL, in schema <c>support</c> (migrated at start, a newer schema
/// refused). PostgreSQL runs writers concurrently, so: a staff creation takes a transaction-scoped
/// advisory lock on the email before checking it; every audit append takes one advisory lock for
/// the whole log before reading the head, so two appenders serialise and the chain never forks
/// (the sequence's primary key stays behind it as the last word); changes to one staff member lock
/// the row (<c>FOR UPDATE</c>). Triggers refuse UPDATE, DELETE and TRUNCATE on the audit table.
/// </summary>
public sealed partial class PostgresSupportStore : ISupportStore, IChatStore, IApprovalStore, IDisposable
{
    public const string Schema = "support";

    private const string StaffColumns =
        "staff_id, email, email_normalised, name, roles, created_at_unix_ms, password_algorithm, password_iterations, password_salt, password_hash, " +
        "totp_key_id, totp_nonce, totp_ciphertext, totp_last_step, disabled, disabled_reason, disabled_at_unix_ms, failures, locks, locked_until_unix_ms";

    private const string AuditColumns = "sequence, time_unix_ms, actor, action, subject, reason, details_json, source_address, previous_hash, hash";

    private static readonly string[] Migrations =
    [
        // The function's body is a plain quoted string (not $$ ... $$): the migrator sends the
        // statements as they are, and a single-quoted body needs no special parsing anywhere.
        """
        CREATE TABLE staff (
            staff_id text PRIMARY KEY,
            email text NOT NULL,
            email_normalised text NOT NULL UNIQUE,
            name text NOT NULL,
            roles text NOT NULL,
            created_at_unix_ms bigint NOT NULL,
            password_algorithm text NOT NULL,
            password_iterations bigint NOT NULL,
            password_salt bytea NOT NULL,
            password_hash bytea NOT NULL,
            totp_key_id bigint NOT NULL,
            totp_nonce bytea NOT NULL,
            totp_ciphertext bytea NOT NULL,
            totp_last_step bigint NOT NULL,
            disabled boolean NOT NULL,
            disabled_reason text NOT NULL,
            disabled_at_unix_ms bigint NOT NULL,
            failures bigint NOT NULL,
            locks bigint NOT NULL,
            locked_until_unix_ms bigint NOT NULL
        );
        CREATE TABLE audit_entries (
            sequence bigint PRIMARY KEY CHECK (sequence >= 1),
            time_unix_ms bigint NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            subject text NOT NULL,
            reason text NOT NULL,
            details_json text NOT NULL,
            source_address text NOT NULL,
            previous_hash text NOT NULL,
            hash text NOT NULL
        );
        CREATE INDEX audit_entries_by_actor ON audit_entries (actor, sequence);
        CREATE INDEX audit_entries_by_subject ON audit_entries (subject, sequence);
        CREATE FUNCTION audit_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS
            'BEGIN RAISE EXCEPTION ''audit_entries is append-only: % refused'', TG_OP; END';
        CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
            FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change();
        CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
            FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change();
        """,
        ChatMigration,
        ApprovalsMigration,
    ];

    private readonly NpgsqlDataSource _dataSource;

    public PostgresSupportStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = Schema, MaxAutoPrepare = 32, AutoPrepareMinUsages = 2 });
        using var connection = PostgresConnections.Open(_dataSource);
        PostgresMigrator.Apply(connection, Schema, Migrations);
    }

    public void Dispose() => _dataSource.Dispose();

    public async Task<(CreateStaffOutcome Outcome, AuditEntryRecord? Entry)> CreateStaffAsync(StaffRecord staff, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(staff);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext($1))", ["support:email:" + staff.EmailNormalised], cancellationToken);
        if ((await QueryAsync(connection, transaction, "SELECT 1 FROM staff WHERE email_normalised = $1", [staff.EmailNormalised], _ => 1, cancellationToken)).Count > 0)
        {
            return (CreateStaffOutcome.EmailTaken, null);
        }
        await ExecuteAsync(connection, transaction, $"INSERT INTO staff ({StaffColumns}) VALUES ({Parameters(20)})", StaffValues(staff), cancellationToken);
        var entry = await AppendAsync(connection, transaction, audit, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (CreateStaffOutcome.Created, entry);
    }

    public Task<StaffRecord?> GetStaffAsync(string staffId, CancellationToken cancellationToken) =>
        StaffWhereAsync("staff_id = $1", staffId, cancellationToken);

    public Task<StaffRecord?> FindStaffByEmailAsync(string emailNormalised, CancellationToken cancellationToken) =>
        StaffWhereAsync("email_normalised = $1", emailNormalised, cancellationToken);

    public async Task<IReadOnlyList<StaffRecord>> ListStaffAsync(string? afterStaffId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await QueryAsync(connection, null, $"SELECT {StaffColumns} FROM staff WHERE staff_id > $1 ORDER BY staff_id LIMIT $2",
            [afterStaffId ?? "", (long)limit], ReadStaff, cancellationToken);
    }

    public async Task<(StaffRecord? Staff, AuditEntryRecord? Entry)> DisableStaffAsync(string staffId, string reason, long nowUnixMs, AuditDraft audit, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var staff = await StaffForUpdateAsync(connection, transaction, staffId, cancellationToken);
        if (staff is null || staff.Disabled)
        {
            return (staff, null);
        }
        await ExecuteAsync(connection, transaction, "UPDATE staff SET disabled = true, disabled_reason = $2, disabled_at_unix_ms = $3 WHERE staff_id = $1",
            [staffId, reason, nowUnixMs], cancellationToken);
        var entry = await AppendAsync(connection, transaction, audit, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (staff with { Disabled = true, DisabledReason = reason, DisabledAtUnixMs = nowUnixMs }, entry);
    }

    public async Task<(StaffRecord? Staff, AuditEntryRecord? Entry)> ResetTotpAsync(string staffId, TotpSecret secret, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(secret);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var staff = await StaffForUpdateAsync(connection, transaction, staffId, cancellationToken);
        if (staff is null)
        {
            return (null, null);
        }
        await ExecuteAsync(connection, transaction, "UPDATE staff SET totp_key_id = $2, totp_nonce = $3, totp_ciphertext = $4, totp_last_step = 0 WHERE staff_id = $1",
            [staffId, (long)secret.KeyId, secret.Nonce, secret.Ciphertext], cancellationToken);
        var entry = await AppendAsync(connection, transaction, audit, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (staff with { Totp = secret, TotpLastStep = 0 }, entry);
    }

    public async Task<bool> RecordAuthenticationAsync(string staffId, long totpStep, AuditDraft audit, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One statement checks and sets the step: of two requests with the same code, the second
        // finds the step taken (PostgreSQL re-checks the condition on the row the first updated).
        var updated = await ExecuteAsync(connection, transaction,
            "UPDATE staff SET totp_last_step = $2, failures = 0, locks = 0 WHERE staff_id = $1 AND totp_last_step < $2 AND NOT disabled", [staffId, totpStep], cancellationToken);
        if (updated != 1)
        {
            return false;
        }
        await AppendAsync(connection, transaction, audit, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<FailureOutcome?> RecordFailureAsync(string staffId, long nowUnixMs, LockPolicy policy, Func<long, AuditDraft> lockAudit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(lockAudit);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var staff = await StaffForUpdateAsync(connection, transaction, staffId, cancellationToken);
        if (staff is null)
        {
            return null;
        }
        var outcome = policy.Next(staff.Failures, staff.Locks, staff.LockedUntilUnixMs, nowUnixMs);
        await ExecuteAsync(connection, transaction, "UPDATE staff SET failures = $2, locks = $3, locked_until_unix_ms = $4 WHERE staff_id = $1",
            [staffId, (long)outcome.Failures, (long)outcome.Locks, outcome.LockedUntilUnixMs], cancellationToken);
        if (outcome.LockedNow)
        {
            await AppendAsync(connection, transaction, lockAudit(outcome.LockedUntilUnixMs), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return outcome;
    }

    public async Task<bool> ReplaceTotpSecretAsync(string staffId, TotpSecret expected, TotpSecret replacement, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(replacement);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var updated = await ExecuteAsync(connection, null,
            "UPDATE staff SET totp_key_id = $2, totp_nonce = $3, totp_ciphertext = $4 WHERE staff_id = $1 AND totp_key_id = $5 AND totp_nonce = $6",
            [staffId, (long)replacement.KeyId, replacement.Nonce, replacement.Ciphertext, (long)expected.KeyId, expected.Nonce], cancellationToken);
        return updated == 1;
    }

    public async Task<IReadOnlyList<string>> ListStaffWithTotpKeyOtherThanAsync(int keyId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await QueryAsync(connection, null, "SELECT staff_id FROM staff WHERE totp_key_id <> $1 ORDER BY staff_id LIMIT $2",
            [(long)keyId, (long)limit], reader => reader.GetString(0), cancellationToken);
    }

    public async Task<AuditEntryRecord> AppendAuditAsync(AuditDraft draft, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var entry = await AppendAsync(connection, transaction, draft, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return entry;
    }

    public async Task<IReadOnlyList<AuditEntryRecord>> ListAuditAsync(AuditFilter filter, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await QueryAsync(connection, null,
            $"SELECT {AuditColumns} FROM audit_entries WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR subject = $2) AND ($3 = '' OR action = $3) " +
            "AND time_unix_ms >= $4 AND ($5 = 0 OR time_unix_ms < $5) AND ($6 = 0 OR sequence < $6) ORDER BY sequence DESC LIMIT $7",
            [filter.Actor ?? "", filter.Subject ?? "", filter.Action ?? "", filter.FromUnixMs, filter.ToUnixMs, filter.BeforeSequence, (long)limit], ReadAudit, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEntryRecord>> ReadAuditAsync(long afterSequence, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await QueryAsync(connection, null, $"SELECT {AuditColumns} FROM audit_entries WHERE sequence > $1 ORDER BY sequence LIMIT $2",
            [afterSequence, (long)limit], ReadAudit, cancellationToken);
    }

    /// <summary>Locks the log, reads the head and appends after it, inside the caller's transaction.</summary>
    private static async Task<AuditEntryRecord> AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, AuditDraft draft, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(draft);
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext($1))", ["support:audit"], cancellationToken);
        var head = (await QueryAsync(connection, transaction, "SELECT sequence, hash FROM audit_entries ORDER BY sequence DESC LIMIT 1", [],
            reader => (Sequence: reader.GetInt64(0), Hash: reader.GetString(1)), cancellationToken)).FirstOrDefault();
        var entry = AuditChain.Link(head.Sequence + 1, head.Sequence == 0 ? AuditChain.GenesisHash : head.Hash, draft);
        await ExecuteAsync(connection, transaction, $"INSERT INTO audit_entries ({AuditColumns}) VALUES ({Parameters(10)})",
            [entry.Sequence, entry.TimeUnixMs, entry.Actor, entry.Action, entry.Subject, entry.Reason, entry.DetailsJson, entry.SourceAddress, entry.PreviousHash, entry.Hash],
            cancellationToken);
        return entry;
    }

    private async Task<StaffRecord?> StaffWhereAsync(string condition, string value, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return (await QueryAsync(connection, null, $"SELECT {StaffColumns} FROM staff WHERE {condition}", [value], ReadStaff, cancellationToken)).FirstOrDefault();
    }

    private static async Task<StaffRecord?> StaffForUpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string staffId, CancellationToken cancellationToken) =>
        (await QueryAsync(connection, transaction, $"SELECT {StaffColumns} FROM staff WHERE staff_id = $1 FOR UPDATE", [staffId], ReadStaff, cancellationToken)).FirstOrDefault();

    private static string Parameters(int count) =>
        string.Join(", ", Enumerable.Range(1, count).Select(i => "$" + i.ToString(CultureInfo.InvariantCulture)));

    private static object[] StaffValues(StaffRecord staff) =>
    [
        staff.StaffId, staff.Email, staff.EmailNormalised, staff.Name, string.Join(',', staff.Roles), staff.CreatedAtUnixMs,
        staff.Password.Algorithm, (long)staff.Password.Iterations, staff.Password.Salt, staff.Password.Hash,
        (long)staff.Totp.KeyId, staff.Totp.Nonce, staff.Totp.Ciphertext, staff.TotpLastStep,
        staff.Disabled, staff.DisabledReason, staff.DisabledAtUnixMs, (long)staff.Failures, (long)staff.Locks, staff.LockedUntilUnixMs,
    ];

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object[] values)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
        return command;
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object[] values, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, values);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<List<T>> QueryAsync<T>(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, object[] values, Func<NpgsqlDataReader, T> read,
        CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(read(reader));
        }
        return list;
    }

    private static StaffRecord ReadStaff(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
            reader.GetString(4).Split(',', StringSplitOptions.RemoveEmptyEntries), reader.GetInt64(5),
            new StaffPassword(reader.GetString(6), checked((int)reader.GetInt64(7)), (byte[])reader.GetValue(8), (byte[])reader.GetValue(9)),
            new TotpSecret(checked((int)reader.GetInt64(10)), (byte[])reader.GetValue(11), (byte[])reader.GetValue(12)))
        {
            TotpLastStep = reader.GetInt64(13),
            Disabled = reader.GetBoolean(14),
            DisabledReason = reader.GetString(15),
            DisabledAtUnixMs = reader.GetInt64(16),
            Failures = checked((int)reader.GetInt64(17)),
            Locks = checked((int)reader.GetInt64(18)),
            LockedUntilUnixMs = reader.GetInt64(19),
        };

    private static AuditEntryRecord ReadAudit(NpgsqlDataReader reader) =>
        new(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetString(9));
}
