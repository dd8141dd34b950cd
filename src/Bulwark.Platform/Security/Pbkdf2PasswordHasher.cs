using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Platform.Security;

/// <summary>
/// A stored password hash with everything needed to check it again: the algorithm, the iteration
/// count (stored so that it can be raised later) and the per-password salt.
/// </summary>
public sealed record PasswordHash(string Algorithm, int Iterations, byte[] Salt, byte[] Hash);

/// <summary>
/// PBKDF2-HMAC-SHA512 password hashing with a random 16-byte salt per password, at the iteration
/// count OWASP recommends (2023: 210,000). The algorithm and iteration count are stored with every
/// hash, so hashes made earlier (PBKDF2-HMAC-SHA256, or fewer iterations) still verify and can be
/// upgraded at their owner's next successful login. One definition for every service that keeps
/// passwords (customers in accounts, staff in support), so both are hashed alike.
/// </summary>
public sealed class Pbkdf2PasswordHasher
{
    public const string Algorithm = "pbkdf2-sha512";

    /// <summary>The algorithm of customer hashes made before 2026-12; verified, and replaced at the next login.</summary>
    public const string LegacyAlgorithm = "pbkdf2-sha256";

    public const int SaltBytes = 16;

    /// <summary>SHA-512's own output size: one PBKDF2 block, so the full strength at no extra cost.</summary>
    public const int HashBytes = 64;

    private readonly byte[] _dummySalt = RandomNumberGenerator.GetBytes(SaltBytes);
    private readonly byte[] _dummyHash = RandomNumberGenerator.GetBytes(HashBytes);

    public Pbkdf2PasswordHasher(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        Iterations = iterations;
    }

    /// <summary>The iteration count of new hashes.</summary>
    public int Iterations { get; }

    public PasswordHash Hash(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        return new PasswordHash(Algorithm, Iterations, salt, Derive(password, salt, Iterations, HashAlgorithmName.SHA512, HashBytes));
    }

    /// <summary>
    /// Checks a password. With no usable hash (an unknown login, or an account without a password)
    /// a dummy hash is computed all the same, so that the answer takes as long as a real check and
    /// the timing does not tell which logins exist.
    /// </summary>
    public bool Verify(string password, PasswordHash? stored)
    {
        ArgumentNullException.ThrowIfNull(password);
        var hashAlgorithm = stored?.Algorithm switch
        {
            Algorithm => HashAlgorithmName.SHA512,
            LegacyAlgorithm => HashAlgorithmName.SHA256,
            _ => (HashAlgorithmName?)null,
        };
        if (stored is null || hashAlgorithm is null || stored.Iterations < 1 || stored.Hash.Length == 0)
        {
            CryptographicOperations.FixedTimeEquals(Derive(password, _dummySalt, Iterations, HashAlgorithmName.SHA512, HashBytes), _dummyHash);
            return false;
        }
        var derived = Derive(password, stored.Salt, stored.Iterations, hashAlgorithm.Value, stored.Hash.Length);
        return CryptographicOperations.FixedTimeEquals(derived, stored.Hash);
    }

    /// <summary>True when the hash is not of the current algorithm, iteration count or salt size.</summary>
    public bool NeedsRehash(PasswordHash stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return stored.Algorithm != Algorithm || stored.Iterations < Iterations || stored.Salt.Length != SaltBytes;
    }

    private static byte[] Derive(string password, byte[] salt, int iterations, HashAlgorithmName hashAlgorithm, int length) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, hashAlgorithm, length);
}
