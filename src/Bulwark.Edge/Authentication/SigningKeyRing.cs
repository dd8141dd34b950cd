using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace Bulwark.Edge.Authentication;

/// <summary>One token signing key and its id (the <c>kid</c> in the header of the tokens it signs).</summary>
internal sealed record SigningKey(string KeyId, SymmetricSecurityKey Key);

/// <summary>
/// The token signing keys, read from the key directory: the first key (<c>edge-signing.key</c>, key id
/// <c>edge-signing</c>: its file name; staff tokens have a ring of their own, <c>staff-signing.key</c>)
/// and any number of added ones (<c>edge-signing.&lt;key id&gt;.key</c>). Every key in
/// the directory verifies tokens; the newest signs — the added key whose id sorts last (ids are UTC
/// times such as <c>20261206T120000Z</c>), else the first key. Rotating is adding a key, waiting a
/// token lifetime and deleting the old file; nobody is logged out.
/// <para>
/// The directory is read again every <see cref="EdgeLimits.SigningKeyRingReloadSecondsDefault"/> seconds,
/// and at once (at most once a second) when a token names a key id this edge does not know yet, so
/// that edges sharing the directory accept each other's tokens from the moment the first of them
/// signs with a new key. A read that fails keeps the keys read before.
/// </para>
/// </summary>
internal sealed partial class SigningKeyRing
{
    /// <summary>The customer ring's first key id (its file, <c>edge-signing.key</c>, without the extension).</summary>
    public const string FirstKeyId = "edge-signing";

    private readonly string _firstKeyPath;
    private readonly string _directory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _sync = new();
    private IReadOnlyList<SigningKey> _keys;
    // Ticks, read without the lock: a long is read and written whole, a DateTimeOffset is not.
    private long _loadedAtTicks;

    private SigningKeyRing(string firstKeyPath, IReadOnlyList<SigningKey> keys, TimeProvider time, ILogger logger)
    {
        _firstKeyPath = firstKeyPath;
        _directory = Path.GetDirectoryName(firstKeyPath) ?? ".";
        _keys = keys;
        _time = time;
        _logger = logger;
        _loadedAtTicks = time.GetUtcNow().UtcTicks;
    }

    /// <summary>Reads the ring, creating the first key when the directory holds none; a bad key file stops the edge here.</summary>
    public static SigningKeyRing Load(string firstKeyPath, TimeProvider time, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(firstKeyPath);
        var fullPath = Path.GetFullPath(firstKeyPath);
        var keys = Read(fullPath);
        if (keys.Count == 0)
        {
            SigningKeyFile.LoadOrCreate(fullPath);
            keys = Read(fullPath);
        }
        return new SigningKeyRing(fullPath, keys, time, logger);
    }

    /// <summary>The key that signs new tokens (read again first when the last read is old).</summary>
    public SigningKey Signing
    {
        get
        {
            ReloadIfOlderThan(TimeSpan.FromSeconds(EdgeLimits.SigningKeyRingReloadSecondsDefault));
            return Volatile.Read(ref _keys)[^1];
        }
    }

    /// <summary>The keys that may have signed a token with this key id: that key, or every key for a token without one.</summary>
    public IEnumerable<SecurityKey> Resolve(string? keyId)
    {
        ReloadIfOlderThan(TimeSpan.FromSeconds(EdgeLimits.SigningKeyRingReloadSecondsDefault));
        if (string.IsNullOrEmpty(keyId))
        {
            return Volatile.Read(ref _keys).Select(key => key.Key).ToList();
        }
        if (Find(keyId) is { } known)
        {
            return [known];
        }
        // Another edge sharing the directory may have started signing with a key added since our last read.
        ReloadIfOlderThan(TimeSpan.FromSeconds(EdgeLimits.SigningKeyRingUnknownKeyReloadSecondsMin));
        return Find(keyId) is { } added ? [added] : [];
    }

    /// <summary>The key ids in the ring, oldest first.</summary>
    public IReadOnlyList<string> KeyIds => Volatile.Read(ref _keys).Select(key => key.KeyId).ToList();

    private SymmetricSecurityKey? Find(string keyId) =>
        Volatile.Read(ref _keys).FirstOrDefault(key => string.Equals(key.KeyId, keyId, StringComparison.Ordinal))?.Key;

    private void ReloadIfOlderThan(TimeSpan age)
    {
        if (_time.GetUtcNow().UtcTicks - Volatile.Read(ref _loadedAtTicks) < age.Ticks)
        {
            return;
        }
        lock (_sync)
        {
            var now = _time.GetUtcNow().UtcTicks;
            if (now - _loadedAtTicks < age.Ticks)
            {
                return;
            }
            Volatile.Write(ref _loadedAtTicks, now);
            try
            {
                var keys = Read(_firstKeyPath);
                if (keys.Count == 0)
                {
                    LogNoKeys(_logger, _directory);
                    return;
                }
                var before = _keys;
                Volatile.Write(ref _keys, keys);
                if (!before.Select(k => k.KeyId).SequenceEqual(keys.Select(k => k.KeyId)))
                {
                    LogRingChanged(_logger, string.Join(", ", keys.Select(k => k.KeyId)), keys[^1].KeyId);
                }
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                LogReadFailed(_logger, error, _directory);
            }
        }
    }

    /// <summary>The keys in the directory, the first key first, then added keys by id; the last one signs.</summary>
    private static List<SigningKey> Read(string firstKeyPath)
    {
        var directory = Path.GetDirectoryName(firstKeyPath) ?? ".";
        var prefix = Path.GetFileNameWithoutExtension(firstKeyPath) + ".";
        var extension = Path.GetExtension(firstKeyPath);
        var keys = new List<SigningKey>();
        if (!Directory.Exists(directory))
        {
            return keys;
        }
        if (File.Exists(firstKeyPath))
        {
            var firstKeyId = Path.GetFileNameWithoutExtension(firstKeyPath);
            keys.Add(new SigningKey(firstKeyId, new SymmetricSecurityKey(SigningKeyFile.Load(firstKeyPath)) { KeyId = firstKeyId }));
        }
        var added = Directory.EnumerateFiles(directory, prefix + "*" + extension)
            .Select(path => (Path: path, KeyId: Path.GetFileName(path)[prefix.Length..^extension.Length]))
            .Where(file => KeyIdPattern().IsMatch(file.KeyId))
            .OrderBy(file => file.KeyId, StringComparer.Ordinal)
            .Take(EdgeLimits.SigningKeysMax);
        foreach (var (path, keyId) in added)
        {
            keys.Add(new SigningKey(keyId, new SymmetricSecurityKey(SigningKeyFile.Load(path)) { KeyId = keyId }));
        }
        return keys;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex KeyIdPattern();

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "Token signing keys are now {KeyIds}; {SigningKeyId} signs")]
    private static partial void LogRingChanged(ILogger logger, string keyIds, string signingKeyId);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Error, Message = "The token signing key directory {Directory} holds no key any more; the keys read before stay in use")]
    private static partial void LogNoKeys(ILogger logger, string directory);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Error, Message = "Reading the token signing keys in {Directory} failed; the keys read before stay in use")]
    private static partial void LogReadFailed(ILogger logger, Exception error, string directory);
}
