using System.Security.Cryptography;
using System.Text;
using Bulwark.Accounts.Storage;

namespace Bulwark.Accounts.Security;

/// <summary>
/// PBKDF2-HMAC-SHA512 password hashing with a per-customer 16-byte salt, at the iteration count
/// OWASP recommends (2023: 210,000). The algorithm and iteration count are stored with every hash,
/// so hashes made earlier (PBKDF2-HMAC-SHA256, or fewer iterations) still verify and are upgraded
/// at their owner's next successful login.
/// </summary>
internal sealed class PasswordHasher
{
    public const string Algorithm = "pbkdf2-sha512";

    /// <summary>The algorithm of hashes made before 2026-12; verified, and replaced at the next login.</summary>
    public const string LegacyAlgorithm = "pbkdf2-sha256";

    public const int SaltBytes = 16;

    /// <summary>SHA-512's own output size: one PBKDF2 block, so the full strength at no extra cost.</summary>
    public const int HashBytes = 64;

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
        return new CredentialRecord(customerId, Algorithm, _iterations, salt, Derive(password, salt, _iterations, HashAlgorithmName.SHA512, HashBytes), nowUnixMs);
    }

    /// <summary>
    /// Checks a password. With no usable credential (unknown email, or a customer without a password)
    /// a dummy hash is computed all the same, so that the answer takes as long as a real check and
    /// the timing does not tell which emails exist.
    /// </summary>
    public bool Verify(string password, CredentialRecord? credential)
    {
        var hashAlgorithm = credential?.Algorithm switch
        {
            Algorithm => HashAlgorithmName.SHA512,
            LegacyAlgorithm => HashAlgorithmName.SHA256,
            _ => (HashAlgorithmName?)null,
        };
        if (credential is null || hashAlgorithm is null || credential.Iterations < 1 || credential.Hash.Length == 0)
        {
            CryptographicOperations.FixedTimeEquals(Derive(password, _dummySalt, _iterations, HashAlgorithmName.SHA512, HashBytes), _dummyHash);
            return false;
        }
        var derived = Derive(password, credential.Salt, credential.Iterations, hashAlgorithm.Value, credential.Hash.Length);
        return CryptographicOperations.FixedTimeEquals(derived, credential.Hash);
    }

    public bool NeedsRehash(CredentialRecord credential) =>
        credential.Algorithm != Algorithm || credential.Iterations < _iterations || credential.Salt.Length != SaltBytes;

    private static byte[] Derive(string password, byte[] salt, int iterations, HashAlgorithmName hashAlgorithm, int length) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, hashAlgorithm, length);
}
