namespace Bulwark.Support.Storage;

/// <summary>
/// A staff member. <see cref="EmailNormalised"/> (trimmed, lower case) is unique. Roles are their
/// names ("support", "operations", "admin"). The password is a PBKDF2 hash; the TOTP secret is
/// kept encrypted (<see cref="TotpSecret"/>), never in clear.
/// </summary>
public sealed record StaffRecord(
    string StaffId,
    string Email,
    string EmailNormalised,
    string Name,
    IReadOnlyList<string> Roles,
    long CreatedAtUnixMs,
    StaffPassword Password,
    TotpSecret Totp)
{
    public bool Disabled { get; init; }

    public string DisabledReason { get; init; } = "";

    public long DisabledAtUnixMs { get; init; }

    /// <summary>The last TOTP time step accepted: a code of this step or an earlier one is refused (replay).</summary>
    public long TotpLastStep { get; init; }

    /// <summary>Failed logins since the last success or lock.</summary>
    public int Failures { get; init; }

    /// <summary>Locks in a row (each one longer); back to 0 at a success.</summary>
    public int Locks { get; init; }

    /// <summary>When the current lock ends; 0 when none was ever set.</summary>
    public long LockedUntilUnixMs { get; init; }
}

/// <summary>A password hash as the platform's PBKDF2 hasher makes it.</summary>
public sealed record StaffPassword(string Algorithm, int Iterations, byte[] Salt, byte[] Hash);

/// <summary>
/// A TOTP secret encrypted with AES-256-GCM under the key <see cref="KeyId"/> of the TOTP key file:
/// <see cref="Ciphertext"/> is the encrypted secret followed by the 16-byte tag.
/// </summary>
public sealed record TotpSecret(int KeyId, byte[] Nonce, byte[] Ciphertext);

/// <summary>What the caller of an audited change says about it; the store adds sequence and hashes.</summary>
public sealed record AuditDraft(long TimeUnixMs, string Actor, string Action, string Subject, string Reason, string DetailsJson, string SourceAddress);

/// <summary>An audit entry as stored: the draft, its place in the chain, and its hash (hex, lower case).</summary>
public sealed record AuditEntryRecord(
    long Sequence,
    long TimeUnixMs,
    string Actor,
    string Action,
    string Subject,
    string Reason,
    string DetailsJson,
    string SourceAddress,
    string PreviousHash,
    string Hash);

/// <summary>Which audit entries a list wants; null or 0 means "any".</summary>
public sealed record AuditFilter(string? Actor, string? Subject, string? Action, long FromUnixMs, long ToUnixMs, long BeforeSequence);

/// <summary>The state of a staff member's failed logins after one more failure.</summary>
public sealed record FailureOutcome(int Failures, int Locks, long LockedUntilUnixMs, bool LockedNow);

/// <summary>How failures become locks: computed inside the store's transaction, from the row as it is.</summary>
public sealed record LockPolicy(int FailuresBeforeLock, int LockSecondsFirst, int LockSecondsMax)
{
    /// <summary>The state after one more failure at <paramref name="nowUnixMs"/>.</summary>
    public FailureOutcome Next(int failures, int locks, long lockedUntilUnixMs, long nowUnixMs)
    {
        var failed = failures + 1;
        if (failed < FailuresBeforeLock)
        {
            return new FailureOutcome(failed, locks, lockedUntilUnixMs, LockedNow: false);
        }
        // Doubling, capped: the shift is bounded so it never overflows however many locks in a row.
        var seconds = Math.Min((long)LockSecondsFirst << Math.Min(locks, 20), LockSecondsMax);
        return new FailureOutcome(0, locks + 1, nowUnixMs + (seconds * 1000), LockedNow: true);
    }
}

public enum CreateStaffOutcome
{
    Created,
    EmailTaken,
}
