using System.Globalization;

namespace Bulwark.Accounts;

/// <summary>How the accounts service stores its data and protects credentials and card numbers.</summary>
public sealed class AccountsOptions
{
    /// <summary>The SQLite database file (created with its directory when missing). Required.</summary>
    public string DatabasePath { get; init; } = "";

    /// <summary>When set, the accounts live in this PostgreSQL database (schema <c>accounts</c>) instead of the SQLite file. An Npgsql connection string.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>
    /// A file holding the 32-byte key that turns a PAN into its token (HMAC-SHA256). Created with
    /// mode 0600 on first start when missing; losing it makes every stored card unfindable by PAN,
    /// so back it up with the database. Required.
    /// </summary>
    public string TokenisationKeyPath { get; init; } = "";

    /// <summary>
    /// A file holding the key (with its key id) of the keyed hash that turns a customer's
    /// idempotency key into a ledger transfer id. Created with mode 0600 on first start when
    /// missing. Empty: <c>transfer-id.key</c> beside <see cref="TokenisationKeyPath"/>. Rotate it
    /// by writing a higher key id (docs/runbooks/transfer-id-key.md); ids already used keep theirs.
    /// </summary>
    public string TransferIdKeyPath { get; init; } = "";

    /// <summary><see cref="TransferIdKeyPath"/>, or its default beside the tokenisation key.</summary>
    internal string TransferIdKeyFile => TransferIdKeyPath.Length > 0
        ? TransferIdKeyPath
        : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(TokenisationKeyPath)) ?? ".", "transfer-id.key");

    /// <summary>The bank's UK sort code, six digits without dashes. Default: 040075.</summary>
    public string SortCode { get; init; } = "040075";

    /// <summary>
    /// PBKDF2-HMAC-SHA512 iterations for new password hashes (OWASP 2023: 210,000). Stored with every
    /// hash, so raising it later re-hashes each password at its owner's next login. Default: 210,000.
    /// </summary>
    public int PasswordIterations { get; init; } = 210_000;

    /// <summary>
    /// Password hashes computed at the same time, each on a dedicated thread. Default: half the
    /// processors (at least one), so that a login flood leaves the other half to card authorisations.
    /// </summary>
    public int PasswordHashingConcurrency { get; init; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>
    /// Logins that may wait for a hashing thread; one more is answered RESOURCE_EXHAUSTED at once.
    /// Default: <see cref="AccountsLimits.PasswordHashingQueueMaxDefault"/>.
    /// </summary>
    public int PasswordHashingQueueMax { get; init; } = AccountsLimits.PasswordHashingQueueMaxDefault;

    /// <summary>How long one call to the ledger may take. Default: 5 seconds.</summary>
    public TimeSpan LedgerCallTimeout { get; init; } = TimeSpan.FromMilliseconds(AccountsLimits.LedgerCallTimeoutMillisecondsDefault);

    /// <summary>Throws when an option is unusable, so that a misconfigured process fails at start.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabasePath) && string.IsNullOrWhiteSpace(PostgresConnectionString))
        {
            throw new ArgumentException("AccountsOptions.DatabasePath is required.");
        }
        if (string.IsNullOrWhiteSpace(TokenisationKeyPath))
        {
            throw new ArgumentException("AccountsOptions.TokenisationKeyPath is required.");
        }
        if (SortCode.Length != 6 || !SortCode.All(char.IsAsciiDigit))
        {
            throw new ArgumentException($"AccountsOptions.SortCode must be six digits, not '{SortCode}'.");
        }
        if (PasswordIterations is < AccountsLimits.PasswordIterationsMin or > AccountsLimits.PasswordIterationsMax)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"AccountsOptions.PasswordIterations must be {AccountsLimits.PasswordIterationsMin} to {AccountsLimits.PasswordIterationsMax}, not {PasswordIterations}."));
        }
        if (PasswordHashingConcurrency is < 1 or > AccountsLimits.PasswordHashingConcurrencyMax)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"AccountsOptions.PasswordHashingConcurrency must be 1 to {AccountsLimits.PasswordHashingConcurrencyMax}, not {PasswordHashingConcurrency}."));
        }
        if (PasswordHashingQueueMax is < 1 or > AccountsLimits.PasswordHashingQueueMaxMax)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"AccountsOptions.PasswordHashingQueueMax must be 1 to {AccountsLimits.PasswordHashingQueueMaxMax}, not {PasswordHashingQueueMax}."));
        }
        if (LedgerCallTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("AccountsOptions.LedgerCallTimeout must be positive.");
        }
    }
}
