using System.Globalization;
using System.Security.Cryptography;
using Bulwark.Platform.Security;

namespace Bulwark.Accounts.Security;

/// <summary>
/// The key of the keyed hash that turns a customer's idempotency key into a ledger transfer id
/// (<see cref="Ledger.CustomerTransferIds"/>), with its key id (1 to 255). The file holds one line,
/// <c>&lt;key id&gt; &lt;64 hexadecimal digits&gt;</c>, mode 0600, beside the tokenisation key. Created on
/// first start (key id 1). Rotating it is writing a file with a higher key id and restarting
/// (docs/runbooks/transfer-id-key.md): every idempotency key already used keeps its transfer id,
/// because the accounts database records the mapping before the transfer reaches the ledger, so
/// the old key is never needed again. Losing the file therefore loses nothing either.
/// </summary>
internal sealed class TransferIdKey
{
    public const int KeyBytes = 32;

    private TransferIdKey(byte keyId, byte[] bytes)
    {
        KeyId = keyId;
        Bytes = bytes;
    }

    /// <summary>Which key this is (1 to 255); it is written into every id derived with it.</summary>
    public byte KeyId { get; }

    public byte[] Bytes { get; }

    /// <summary>True when the key file had to be created.</summary>
    public bool Created { get; private init; }

    public static TransferIdKey LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var fullPath = Path.GetFullPath(path);
        var created = !File.Exists(fullPath) && TryCreate(fullPath);
        PrivateFiles.RefuseSharedKeyFile(fullPath);
        var (keyId, bytes) = Parse(File.ReadAllText(fullPath), fullPath);
        return new TransferIdKey(keyId, bytes) { Created = created };
    }

    internal static (byte KeyId, byte[] Bytes) Parse(string text, string path)
    {
        var parts = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2
            || !byte.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var keyId) || keyId == 0
            || parts[1].Length != KeyBytes * 2 || !parts[1].All(char.IsAsciiHexDigit))
        {
            throw new InvalidOperationException(
                $"The transfer id key file {path} must hold one line: a key id from 1 to 255, a space, and {KeyBytes * 2} hexadecimal digits (see docs/runbooks/transfer-id-key.md).");
        }
        return (keyId, Convert.FromHexString(parts[1]));
    }

    internal static string Format(byte keyId, ReadOnlySpan<byte> key) =>
        keyId.ToString(CultureInfo.InvariantCulture) + " " + Convert.ToHexStringLower(key) + "\n";

    /// <summary>Writes key id 1 with a random key (<see cref="KeyFile"/>).</summary>
    private static bool TryCreate(string fullPath) =>
        KeyFile.TryCreate(fullPath, System.Text.Encoding.ASCII.GetBytes(Format(1, RandomNumberGenerator.GetBytes(KeyBytes))));
}
