using System.Security.Cryptography;
using System.Text;
using Bulwark.Accounts.Storage;

namespace Bulwark.Accounts.Security;

/// <summary>
/// PBKDF2-SHA256 password hashing with a per-customer 16-byte salt. The iteration count is stored
/// with every hash, so raising <see cref="AccountsOptions.PasswordIterations"/> upgrades each hash
/// at its owner's next successful login.
/// </summary>
internal sealed class PasswordHasher
{
    public const string Algorithm = "pbkdf2-sha256";
    public const int SaltBytes = 16;
    public const int HashBytes = 32;

    private readonly int _iterations;
    private readonly byte[] _dummySalt = RandomNumberGenerator.GetBytes(SaltBytes);
    private readonly byte[] _dummyHash = RandomNumberGenerator.GetBytes(HashBytes);

    public PasswordHasher(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        _iterations = iterations;
    }

    public CredentialRecord Hash(string customerId, string password, long nowUnixMs)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        return new CredentialRecord(customerId, Algorithm, _iterations, salt, Derive(password, salt, _iterations), nowUnixMs);
    }

    /// <summary>
    /// Checks a password. With no credential (unknown email, or a customer without a password) a
    /// dummy hash is computed all the same, so that the answer takes as long as a real check and
    /// the timing does not tell which emails exist.
    /// </summary>
    public bool Verify(string password, CredentialRecord? credential)
    {
        if (credential is null || credential.Algorithm != Algorithm || credential.Iterations < 1)
        {
            CryptographicOperations.FixedTimeEquals(Derive(password, _dummySalt, _iterations), _dummyHash);
            return false;
        }
        var derived = Derive(password, credential.Salt, credential.Iterations);
        return CryptographicOperations.FixedTimeEquals(derived, credential.Hash);
    }

    public bool NeedsRehash(CredentialRecord credential) =>
        credential.Algorithm != Algorithm || credential.Iterations < _iterations || credential.Salt.Length != SaltBytes;

    private static byte[] Derive(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
}
