using System.Globalization;

namespace Bulwark.Support;

/// <summary>How the support service stores the staff directory and the audit log, and protects staff secrets.</summary>
public sealed class SupportOptions
{
    /// <summary>The SQLite database file (created with its directory when missing). Required unless <see cref="PostgresConnectionString"/> is set.</summary>
    public string DatabasePath { get; init; } = "";

    /// <summary>When set, the data lives in this PostgreSQL database (schema <c>support</c>) instead of the SQLite file. An Npgsql connection string.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>
    /// The file of keys that encrypt staff TOTP secrets at rest (AES-256-GCM): one line per key,
    /// <c>&lt;key id&gt; &lt;64 hexadecimal digits&gt;</c>, mode 0600; the highest key id encrypts,
    /// every key decrypts. Created with key id 1 on first start. Rotation: docs/runbooks/staff.md. Required.
    /// </summary>
    public string TotpKeyPath { get; init; } = "";

    /// <summary>The issuer shown in authenticator apps (the otpauth:// URI's label and issuer). Default: Bulwark.</summary>
    public string TotpIssuer { get; init; } = "Bulwark";

    /// <summary>PBKDF2-HMAC-SHA512 iterations for new staff password hashes (as customers': 210,000).</summary>
    public int PasswordIterations { get; init; } = 210_000;

    /// <summary>Password hashes computed at the same time, each on a dedicated thread. Default: half the processors, at least one.</summary>
    public int PasswordHashingConcurrency { get; init; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Staff logins that may wait for a hashing thread; one more is answered RESOURCE_EXHAUSTED at once.</summary>
    public int PasswordHashingQueueMax { get; init; } = SupportLimits.PasswordHashingQueueMaxDefault;

    /// <summary>Throws when an option is unusable, so that a misconfigured process fails at start.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabasePath) && string.IsNullOrWhiteSpace(PostgresConnectionString))
        {
            throw new ArgumentException("SupportOptions.DatabasePath is required.");
        }
        if (string.IsNullOrWhiteSpace(TotpKeyPath))
        {
            throw new ArgumentException("SupportOptions.TotpKeyPath is required.");
        }
        if (string.IsNullOrWhiteSpace(TotpIssuer) || TotpIssuer.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException("SupportOptions.TotpIssuer must be a name without ':'.");
        }
        if (PasswordIterations is < SupportLimits.PasswordIterationsMin or > SupportLimits.PasswordIterationsMax)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"SupportOptions.PasswordIterations must be {SupportLimits.PasswordIterationsMin} to {SupportLimits.PasswordIterationsMax}, not {PasswordIterations}."));
        }
        if (PasswordHashingConcurrency is < 1 or > SupportLimits.PasswordHashingConcurrencyMax)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"SupportOptions.PasswordHashingConcurrency must be 1 to {SupportLimits.PasswordHashingConcurrencyMax}, not {PasswordHashingConcurrency}."));
        }
        if (PasswordHashingQueueMax is < 1 or > SupportLimits.PasswordHashingQueueMaxMax)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"SupportOptions.PasswordHashingQueueMax must be 1 to {SupportLimits.PasswordHashingQueueMaxMax}, not {PasswordHashingQueueMax}."));
        }
    }
}
