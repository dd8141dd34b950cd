using Bulwark.Accounts.Storage;
using Bulwark.Platform.Security;

namespace Bulwark.Accounts.Security;

/// <summary>
/// Customer password hashing: the platform's <see cref="Pbkdf2PasswordHasher"/> (PBKDF2-HMAC-SHA512,
/// 16-byte salt, OWASP's 210,000 iterations; SHA-256 hashes from before 2026-12 still verify and are
/// upgraded at their owner's next login) over the accounts store's <see cref="CredentialRecord"/>.
/// The staff directory (support service) hashes staff passwords with the same class.
/// </summary>
internal sealed class PasswordHasher
{
    public const string Algorithm = Pbkdf2PasswordHasher.Algorithm;

    /// <summary>The algorithm of hashes made before 2026-12; verified, and replaced at the next login.</summary>
    public const string LegacyAlgorithm = Pbkdf2PasswordHasher.LegacyAlgorithm;

    public const int SaltBytes = Pbkdf2PasswordHasher.SaltBytes;

    public const int HashBytes = Pbkdf2PasswordHasher.HashBytes;

    private readonly Pbkdf2PasswordHasher _hasher;
    private readonly Pbkdf2PasswordHasher _synthetic = new(AccountsLimits.SyntheticPasswordIterations);

    public PasswordHasher(int iterations) => _hasher = new Pbkdf2PasswordHasher(iterations);

    public CredentialRecord Hash(string customerId, string password, long nowUnixMs)
    {
        var hash = _hasher.Hash(password);
        return new CredentialRecord(customerId, hash.Algorithm, hash.Iterations, hash.Salt, hash.Hash, nowUnixMs);
    }

    /// <summary>
    /// A synthetic customer's hash: <see cref="AccountsLimits.SyntheticPasswordIterations"/> iterations,
    /// for a random secret of at least <see cref="AccountsLimits.SyntheticPasswordLengthMin"/> characters
    /// (checked by the caller); never upgraded at login (<see cref="NeedsRehash"/> is not asked for them).
    /// </summary>
    public CredentialRecord HashSynthetic(string customerId, string password, long nowUnixMs)
    {
        var hash = _synthetic.Hash(password);
        return new CredentialRecord(customerId, hash.Algorithm, hash.Iterations, hash.Salt, hash.Hash, nowUnixMs);
    }

    /// <summary>
    /// Checks a password. With no usable credential (unknown email, or a customer without a password)
    /// a dummy hash is computed all the same, so that the answer takes as long as a real check and
    /// the timing does not tell which emails exist.
    /// </summary>
    public bool Verify(string password, CredentialRecord? credential) =>
        _hasher.Verify(password, credential is null ? null : ToHash(credential));

    public bool NeedsRehash(CredentialRecord credential) => _hasher.NeedsRehash(ToHash(credential));

    private static PasswordHash ToHash(CredentialRecord credential) =>
        new(credential.Algorithm, credential.Iterations, credential.Salt, credential.Hash);
}
