namespace Bulwark.Support.Storage;

/// <summary>
/// The support service's store: the staff directory and the audit log. Any implementation that
/// keeps these promises (SQLite embedded, PostgreSQL in a cluster) can stand behind it: every write
/// is durable when its task completes; the email is unique even under concurrent writers; audit
/// entries are numbered 1, 2, 3 ... without gaps, each chained to the one before
/// (<see cref="AuditChain"/>), even under concurrent appenders; and there is no way to change or
/// remove an entry — the schemas refuse UPDATE and DELETE on the audit table.
/// Every method that changes a staff member appends its audit entry in the same transaction.
/// </summary>
public interface ISupportStore
{
    /// <summary>Inserts the staff member and appends <paramref name="audit"/>, all or nothing; refuses a taken normalised email.</summary>
    Task<(CreateStaffOutcome Outcome, AuditEntryRecord? Entry)> CreateStaffAsync(StaffRecord staff, AuditDraft audit, CancellationToken cancellationToken);

    Task<StaffRecord?> GetStaffAsync(string staffId, CancellationToken cancellationToken);

    Task<StaffRecord?> FindStaffByEmailAsync(string emailNormalised, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> staff with ids after <paramref name="afterStaffId"/> (null: from the first), in id order.</summary>
    Task<IReadOnlyList<StaffRecord>> ListStaffAsync(string? afterStaffId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Disables the staff member and appends <paramref name="audit"/>, all or nothing. Null when
    /// there is no such staff member; the record as it is (and no entry) when already disabled.
    /// </summary>
    Task<(StaffRecord? Staff, AuditEntryRecord? Entry)> DisableStaffAsync(string staffId, string reason, long nowUnixMs, AuditDraft audit, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the TOTP secret (and forgets the last accepted step) and appends
    /// <paramref name="audit"/>, all or nothing. Null when there is no such staff member.
    /// </summary>
    Task<(StaffRecord? Staff, AuditEntryRecord? Entry)> ResetTotpAsync(string staffId, TotpSecret secret, AuditDraft audit, CancellationToken cancellationToken);

    /// <summary>
    /// Records a successful login at TOTP step <paramref name="totpStep"/>: only when the step is
    /// later than the last accepted one (false otherwise: the code was used already, perhaps by a
    /// racing request). Clears failures and locks; appends <paramref name="audit"/> in the same transaction.
    /// </summary>
    Task<bool> RecordAuthenticationAsync(string staffId, long totpStep, AuditDraft audit, CancellationToken cancellationToken);

    /// <summary>
    /// Records one failed login, computing the new state with <paramref name="policy"/> from the row
    /// as it is in the transaction. When it locks, <paramref name="lockAudit"/> is appended with it.
    /// Null when there is no such staff member.
    /// </summary>
    Task<FailureOutcome?> RecordFailureAsync(string staffId, long nowUnixMs, LockPolicy policy, Func<long, AuditDraft> lockAudit, CancellationToken cancellationToken);

    /// <summary>Re-encrypts one staff member's TOTP secret (a key rotation) unless it changed since it was read (<paramref name="expected"/>).</summary>
    Task<bool> ReplaceTotpSecretAsync(string staffId, TotpSecret expected, TotpSecret replacement, CancellationToken cancellationToken);

    /// <summary>Staff ids whose TOTP secret is encrypted under a key other than <paramref name="keyId"/>, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> ListStaffWithTotpKeyOtherThanAsync(int keyId, int limit, CancellationToken cancellationToken);

    /// <summary>Appends an entry at the end of the chain and returns it as stored.</summary>
    Task<AuditEntryRecord> AppendAuditAsync(AuditDraft draft, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> entries matching <paramref name="filter"/>, newest (highest sequence) first.</summary>
    Task<IReadOnlyList<AuditEntryRecord>> ListAuditAsync(AuditFilter filter, int limit, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> entries with sequences after <paramref name="afterSequence"/>, in sequence order (the chain's walk).</summary>
    Task<IReadOnlyList<AuditEntryRecord>> ReadAuditAsync(long afterSequence, int limit, CancellationToken cancellationToken);
}
