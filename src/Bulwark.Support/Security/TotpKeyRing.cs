using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Platform.Security;

namespace Bulwark.Support.Security;

/// <summary>
/// The keys that encrypt staff TOTP secrets at rest (AES-256-GCM), from a file of the support
/// service's own: one line per key, <c>&lt;key id&gt; &lt;64 hexadecimal digits&gt;</c>, mode 0600.
/// The highest key id encrypts; every key in the file decrypts, so a rotation is adding a line with
/// a higher id and restarting: the service then re-encrypts every secret under the new key
/// (<see cref="SupportStartup"/>), after which the old line may go (docs/runbooks/staff.md).
/// Created with key id 1 on first start, written whole or not at all (<see cref="KeyFile"/>).
/// </summary>
internal sealed class TotpKeyRing
{
    public const int KeyBytes = 32;

    public const int NonceBytes = 12;

    public const int TagBytes = 16;

    private readonly SortedDictionary<int, byte[]> _keys;

    private TotpKeyRing(SortedDictionary<int, byte[]> keys, string path, bool created)
    {
        _keys = keys;
        Path = path;
        Created = created;
    }

    /// <summary>The key id new secrets are encrypted under: the highest in the file.</summary>
    public int CurrentKeyId => _keys.Keys.Max();

    public IReadOnlyCollection<int> KeyIds => _keys.Keys;

    public string Path { get; }

    /// <summary>True when the key file had to be created.</summary>
    public bool Created { get; }

    public static TotpKeyRing LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        var created = !File.Exists(fullPath) && KeyFile.TryCreate(fullPath, Encoding.ASCII.GetBytes(Format(1, RandomNumberGenerator.GetBytes(KeyBytes))));
        PrivateFiles.RefuseSharedKeyFile(fullPath);
        return new TotpKeyRing(Parse(File.ReadAllText(fullPath), fullPath), fullPath, created);
    }

    internal static SortedDictionary<int, byte[]> Parse(string text, string path)
    {
        var keys = new SortedDictionary<int, byte[]>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var keyId) || keyId is < 1 or > 1_000_000
                || parts[1].Length != KeyBytes * 2 || !parts[1].All(char.IsAsciiHexDigit) || !keys.TryAdd(keyId, Convert.FromHexString(parts[1])))
            {
                throw new InvalidOperationException(
                    $"The TOTP key file {path} must hold one line per key: a key id from 1 to 1000000 (each once), a space, and {KeyBytes * 2} hexadecimal digits (see docs/runbooks/staff.md).");
            }
        }
        return keys.Count > 0 ? keys : throw new InvalidOperationException($"The TOTP key file {path} holds no key (see docs/runbooks/staff.md).");
    }

    internal static string Format(int keyId, ReadOnlySpan<byte> key) =>
        keyId.ToString(CultureInfo.InvariantCulture) + " " + Convert.ToHexStringLower(key) + "\n";

    /// <summary>
    /// Encrypts a secret under the current key. The staff id and key id are the associated data:
    /// a ciphertext copied onto another staff member's row does not decrypt there.
    /// </summary>
    public Storage.TotpSecret Encrypt(string staffId, ReadOnlySpan<byte> secret)
    {
        var keyId = CurrentKeyId;
        var nonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var ciphertext = new byte[secret.Length + TagBytes];
        using var aes = new AesGcm(_keys[keyId], TagBytes);
        aes.Encrypt(nonce, secret, ciphertext.AsSpan(0, secret.Length), ciphertext.AsSpan(secret.Length), AssociatedData(staffId, keyId));
        return new Storage.TotpSecret(keyId, nonce, ciphertext);
    }

    /// <summary>The secret in clear; throws when its key is not in the file or the ciphertext was changed.</summary>
    public byte[] Decrypt(string staffId, Storage.TotpSecret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (!_keys.TryGetValue(secret.KeyId, out var key))
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"Staff member {staffId}'s TOTP secret is encrypted under key id {secret.KeyId}, which is not in {Path}."));
        }
        if (secret.Nonce.Length != NonceBytes || secret.Ciphertext.Length < TagBytes)
        {
            throw new CryptographicException($"Staff member {staffId}'s stored TOTP secret is malformed.");
        }
        var length = secret.Ciphertext.Length - TagBytes;
        var plain = new byte[length];
        using var aes = new AesGcm(key, TagBytes);
        aes.Decrypt(secret.Nonce, secret.Ciphertext.AsSpan(0, length), secret.Ciphertext.AsSpan(length), plain, AssociatedData(staffId, secret.KeyId));
        return plain;
    }

    private static byte[] AssociatedData(string staffId, int keyId) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"bulwark:staff-totp:v1\n{staffId}\n{keyId}"));
}
