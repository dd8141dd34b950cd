using System.Globalization;
using Bulwark.Platform.Security;

namespace Bulwark.Accounts.Security;

/// <summary>
/// The 32-byte tokenisation key, kept in a file of its own (mode 0600) beside the database. On
/// first start the file is created: written to a temporary file, flushed to disk, then moved into
/// place without overwriting, so that a crash never leaves a short key and two processes starting
/// at once end up with one key.
/// </summary>
internal sealed class TokenisationKey
{
    public const int KeyBytes = 32;

    private TokenisationKey(byte[] bytes) => Bytes = bytes;

    public byte[] Bytes { get; }

    /// <summary>
    /// A value that identifies the key without revealing it: the first 16 bytes of an HMAC of a
    /// fixed label. The accounts database stores it, so a start with the wrong key is refused.
    /// </summary>
    public string Fingerprint() =>
        Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Bytes, "bulwark:tokenisation-key-check:v1"u8)[..16]);

    /// <summary>True when the key file had to be created.</summary>
    public bool Created { get; private init; }

    public static TokenisationKey LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var fullPath = Path.GetFullPath(path);
        var created = false;
        if (!File.Exists(fullPath))
        {
            created = TryCreate(fullPath);
        }
        PrivateFiles.RefuseSharedKeyFile(fullPath);
        var bytes = File.ReadAllBytes(fullPath);
        if (bytes.Length != KeyBytes)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The tokenisation key file {fullPath} holds {bytes.Length} bytes, not {KeyBytes}. Restore it from backup: without the right key no stored card can be found by its PAN."));
        }
        return new TokenisationKey(bytes) { Created = created };
    }

    private static bool TryCreate(string fullPath) =>
        KeyFile.TryCreate(fullPath, System.Security.Cryptography.RandomNumberGenerator.GetBytes(KeyBytes));
}
