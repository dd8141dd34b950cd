using System.Globalization;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Support.Storage;

/// <summary>
/// The embedded support store: one SQLite file (WAL, synchronous FULL). Every write runs in one
/// IMMEDIATE transaction (SQLite has one writer at a time, so a check-then-insert and the audit
/// chain's read-the-head-then-append cannot race). Triggers refuse UPDATE and DELETE on the audit table.
/// </summary>
public sealed partial class SqliteSupportStore : ISupportStore, IChatStore, IApprovalStore
{
    public const string StoreName = "support";

    private const string StaffColumns =
        "staff_id, email, email_normalised, name, roles, created_at_unix_ms, password_algorithm, password_iterations, password_salt, password_hash, " +
        "totp_key_id, totp_nonce, totp_ciphertext, totp_last_step, disabled, disabled_reason, disabled_at_unix_ms, failures, locks, locked_until_unix_ms";

    private const string AuditColumns = "sequence, time_unix_ms, actor, action, subject, reason, details_json, source_address, previous_hash, hash";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE staff (
            staff_id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            email_normalised TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            roles TEXT NOT NULL,
            created_at_unix_ms INTEGER NOT NULL,
            password_algorithm TEXT NOT NULL,
            password_iterations INTEGER NOT NULL,
            password_salt BLOB NOT NULL,
            password_hash BLOB NOT NULL,
            totp_key_id INTEGER NOT NULL,
            totp_nonce BLOB NOT NULL,
            totp_ciphertext BLOB NOT NULL,
            totp_last_step INTEGER NOT NULL,
            disabled INTEGER NOT NULL,
            disabled_reason TEXT NOT NULL,
            disabled_at_unix_ms INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            locks INTEGER NOT NULL,
            locked_until_unix_ms INTEGER NOT NULL
        );
        CREATE TABLE audit_entries (
            sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),
            time_unix_ms INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            reason TEXT NOT NULL,
            details_json TEXT NOT NULL,
            source_address TEXT NOT NULL,
            previous_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_entries_by_actor ON audit_entries (actor, sequence);
        CREATE INDEX audit_entries_by_subject ON audit_entries (subject, sequence);
        CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
        BEGIN
            SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
        END;
        CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
        BEGIN
            SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused');
        END;
        """,
        ChatMigration,
        ApprovalsMigration,
    ];

    private readonly SqliteDatabase _database;

    public SqliteSupportStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        using var connection = _database.Open();
        SqliteMigrator.Apply(connection, StoreName, Migrations);
    }

    public async Task<(CreateStaffOutcome Outcome, AuditEntryRecord? Entry)> CreateStaffAsync(StaffRecord staff, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(staff);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        if (await ScalarAsync(connection, transaction, "SELECT 1 FROM staff WHERE email_normalised = $p0", [staff.EmailNormalised], cancellationToken) is not null)
        {
            return (CreateStaffOutcome.EmailTaken, null);
        }
        await ExecuteAsync(connection, transaction, $"INSERT INTO staff ({StaffColumns}) VALUES ({Parameters(20)})", StaffValues(staff), cancellationToken);
        var entry = await AppendAsync(connection, transaction, audit, cancellationToken);
        transaction.Commit();
        return (CreateStaffOutcome.Created, entry);
    }

    public Task<StaffRecord?> GetStaffAsync(string staffId, CancellationToken cancellationToken) =>
        StaffWhereAsync("staff_id = $p0", staffId, cancellationToken);

    public Task<StaffRecord?> FindStaffByEmailAsync(string emailNormalised, CancellationToken cancellationToken) =>
        StaffWhereAsync("email_normalised = $p0", emailNormalised, cancellationToken);

    public async Task<IReadOnlyList<StaffRecord>> ListStaffAsync(string? afterStaffId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        return await QueryAsync(connection, null, $"SELECT {StaffColumns} FROM staff WHERE staff_id > $p0 ORDER BY staff_id LIMIT $p1",
            [afterStaffId ?? "", (long)limit], ReadStaff, cancellationToken);
    }

    public async Task<(StaffRecord? Staff, AuditEntryRecord? Entry)> DisableStaffAsync(string staffId, string reason, long nowUnixMs, AuditDraft audit, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var staff = await StaffInAsync(connection, transaction, staffId, cancellationToken);
        if (staff is null || staff.Disabled)
        {
            return (staff, null);
        }
        await ExecuteAsync(connection, transaction, "UPDATE staff SET disabled = 1, disabled_reason = $p1, disabled_at_unix_ms = $p2 WHERE staff_id = $p0",
            [staffId, reason, nowUnixMs], cancellationToken);
        var entry = await AppendAsync(connection, transaction, audit, cancellationToken);
        transaction.Commit();
        return (staff with { Disabled = true, DisabledReason = reason, DisabledAtUnixMs = nowUnixMs }, entry);
    }

    public async Task<(StaffRecord? Staff, AuditEntryRecord? Entry)> ResetTotpAsync(string staffId, TotpSecret secret, AuditDraft audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(secret);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var staff = await StaffInAsync(connection, transaction, staffId, cancellationToken);
        if (staff is null)
        {
            return (null, null);
        }
        await ExecuteAsync(connection, transaction, "UPDATE staff SET totp_key_id = $p1, totp_nonce = $p2, totp_ciphertext = $p3, totp_last_step = 0 WHERE staff_id = $p0",
            [staffId, (long)secret.KeyId, secret.Nonce, secret.Ciphertext], cancellationToken);
        var entry = await AppendAsync(connection, transaction, audit, cancellationToken);
        transaction.Commit();
        return (staff with { Totp = secret, TotpLastStep = 0 }, entry);
    }

    public async Task<bool> RecordAuthenticationAsync(string staffId, long totpStep, AuditDraft audit, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var updated = await ExecuteAsync(connection, transaction,
            "UPDATE staff SET totp_last_step = $p1, failures = 0, locks = 0 WHERE staff_id = $p0 AND totp_last_step < $p1 AND disabled = 0", [staffId, totpStep], cancellationToken);
        if (updated != 1)
        {
            return false;
        }
        await AppendAsync(connection, transaction, audit, cancellationToken);
        transaction.Commit();
        return true;
    }

    public async Task<FailureOutcome?> RecordFailureAsync(string staffId, long nowUnixMs, LockPolicy policy, Func<long, AuditDraft> lockAudit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(lockAudit);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var staff = await StaffInAsync(connection, transaction, staffId, cancellationToken);
        if (staff is null)
        {
            return null;
        }
        var outcome = policy.Next(staff.Failures, staff.Locks, staff.LockedUntilUnixMs, nowUnixMs);
        await ExecuteAsync(connection, transaction, "UPDATE staff SET failures = $p1, locks = $p2, locked_until_unix_ms = $p3 WHERE staff_id = $p0",
            [staffId, (long)outcome.Failures, (long)outcome.Locks, outcome.LockedUntilUnixMs], cancellationToken);
        if (outcome.LockedNow)
        {
            await AppendAsync(connection, transaction, lockAudit(outcome.LockedUntilUnixMs), cancellationToken);
        }
        transaction.Commit();
        return outcome;
    }

    public async Task<bool> ReplaceTotpSecretAsync(string staffId, TotpSecret expected, TotpSecret replacement, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(replacement);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var updated = await ExecuteAsync(connection, transaction,
            "UPDATE staff SET totp_key_id = $p1, totp_nonce = $p2, totp_ciphertext = $p3 WHERE staff_id = $p0 AND totp_key_id = $p4 AND totp_nonce = $p5",
            [staffId, (long)replacement.KeyId, replacement.Nonce, replacement.Ciphertext, (long)expected.KeyId, expected.Nonce], cancellationToken);
        transaction.Commit();
        return updated == 1;
    }

    public async Task<IReadOnlyList<string>> ListStaffWithTotpKeyOtherThanAsync(int keyId, int limit, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        return await QueryAsync(connection, null, "SELECT staff_id FROM staff WHERE totp_key_id <> $p0 ORDER BY staff_id LIMIT $p1",
            [(long)keyId, (long)limit], reader => reader.GetString(0), cancellationToken);
    }

    public async Task<AuditEntryRecord> AppendAuditAsync(AuditDraft draft, CancellationToken cancellationToken)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var entry = await AppendAsync(connection, transaction, draft, cancellationToken);
        transaction.Commit();
        return entry;
    }

    public async Task<IReadOnlyList<AuditEntryRecord>> ListAuditAsync(AuditFilter filter, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        // Empty text and zero numbers mean "any": one statement for every filter, each index still usable.
        return await QueryAsync(connection, null,
            $"SELECT {AuditColumns} FROM audit_entries WHERE ($p0 = '' OR actor = $p0) AND ($p1 = '' OR subject = $p1) AND ($p2 = '' OR action = $p2) " +
            "AND time_unix_ms >= $p3 AND ($p4 = 0 OR time_unix_ms < $p4) AND ($p5 = 0 OR sequence < $p5) ORDER BY sequence DESC LIMIT $p6",
            [filter.Actor ?? "", filter.Subject ?? "", filter.Action ?? "", filter.FromUnixMs, filter.ToUnixMs, filter.BeforeSequence, (long)limit], ReadAudit, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEntryRecord>> ReadAuditAsync(long afterSequence, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        using var connection = _database.Open();
        return await QueryAsync(connection, null, $"SELECT {AuditColumns} FROM audit_entries WHERE sequence > $p0 ORDER BY sequence LIMIT $p1",
            [afterSequence, (long)limit], ReadAudit, cancellationToken);
    }

    /// <summary>Reads the head and appends after it, inside the caller's (IMMEDIATE, so exclusive) transaction.</summary>
    private static async Task<AuditEntryRecord> AppendAsync(SqliteConnection connection, SqliteTransaction transaction, AuditDraft draft, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(draft);
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
        using var connection = _database.Open();
        return (await QueryAsync(connection, null, $"SELECT {StaffColumns} FROM staff WHERE {condition}", [value], ReadStaff, cancellationToken)).FirstOrDefault();
    }

    private static async Task<StaffRecord?> StaffInAsync(SqliteConnection connection, SqliteTransaction transaction, string staffId, CancellationToken cancellationToken) =>
        (await QueryAsync(connection, transaction, $"SELECT {StaffColumns} FROM staff WHERE staff_id = $p0", [staffId], ReadStaff, cancellationToken)).FirstOrDefault();

    private static string Parameters(int count) =>
        string.Join(", ", Enumerable.Range(0, count).Select(i => "$p" + i.ToString(CultureInfo.InvariantCulture)));

    private static object[] StaffValues(StaffRecord staff) =>
    [
        staff.StaffId, staff.Email, staff.EmailNormalised, staff.Name, string.Join(',', staff.Roles), staff.CreatedAtUnixMs,
        staff.Password.Algorithm, (long)staff.Password.Iterations, staff.Password.Salt, staff.Password.Hash,
        (long)staff.Totp.KeyId, staff.Totp.Nonce, staff.Totp.Ciphertext, staff.TotpLastStep,
        staff.Disabled ? 1L : 0L, staff.DisabledReason, staff.DisabledAtUnixMs, (long)staff.Failures, (long)staff.Locks, staff.LockedUntilUnixMs,
    ];

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, object[] values)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters.AddWithValue("$p" + i.ToString(CultureInfo.InvariantCulture), values[i]);
        }
        return command;
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, object[] values, CancellationToken cancellationToken)
    {
        using var command = Command(connection, transaction, sql, values);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, object[] values, CancellationToken cancellationToken)
    {
        using var command = Command(connection, transaction, sql, values);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    private static async Task<List<T>> QueryAsync<T>(SqliteConnection connection, SqliteTransaction? transaction, string sql, object[] values, Func<SqliteDataReader, T> read,
        CancellationToken cancellationToken)
    {
        using var command = Command(connection, transaction, sql, values);
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(read(reader));
        }
        return list;
    }

    private static StaffRecord ReadStaff(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
            reader.GetString(4).Split(',', StringSplitOptions.RemoveEmptyEntries), reader.GetInt64(5),
            new StaffPassword(reader.GetString(6), reader.GetInt32(7), (byte[])reader.GetValue(8), (byte[])reader.GetValue(9)),
            new TotpSecret(reader.GetInt32(10), (byte[])reader.GetValue(11), (byte[])reader.GetValue(12)))
        {
            TotpLastStep = reader.GetInt64(13),
            Disabled = reader.GetInt64(14) != 0,
            DisabledReason = reader.GetString(15),
            DisabledAtUnixMs = reader.GetInt64(16),
            Failures = reader.GetInt32(17),
            Locks = reader.GetInt32(18),
            LockedUntilUnixMs = reader.GetInt64(19),
        };

    private static AuditEntryRecord ReadAudit(SqliteDataReader reader) =>
        new(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetString(9));
}
