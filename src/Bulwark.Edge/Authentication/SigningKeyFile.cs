using System.Security.Cryptography;
using Bulwark.Platform.Security;

namespace Bulwark.Edge.Authentication;

/// <summary>
/// The token signing key lives in a file readable by the owner only, so that tokens stay valid
/// across restarts and every edge replica given the same file accepts the others' tokens.
/// </summary>
internal static class SigningKeyFile
{
    public static byte[] LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            Create(fullPath);
        }
        return Load(fullPath);
    }

    /// <summary>Reads a key file that must exist (a key of the ring is never re-created: a deleted key is a retired one).</summary>
    public static byte[] Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var fullPath = Path.GetFullPath(path);
        PrivateFiles.RefuseSharedKeyFile(fullPath);
        var length = new FileInfo(fullPath).Length;
        if (length > EdgeLimits.SigningKeyBytesMax)
        {
            throw new InvalidOperationException(
                $"The signing key file '{fullPath}' holds {length} bytes; a key file holds at most {EdgeLimits.SigningKeyBytesMax}. Is it the right file?");
        }
        var key = File.ReadAllBytes(fullPath);
        if (key.Length < EdgeLimits.SigningKeyBytesMin)
        {
            throw new InvalidOperationException(
                $"The signing key file '{fullPath}' holds {key.Length} bytes; it needs at least {EdgeLimits.SigningKeyBytesMin} random bytes. Delete it to have a new one created.");
        }
        return key;
    }

    private static void Create(string fullPath)
    {
        var directory = Path.GetDirectoryName(fullPath);
        if (!string.IsNullOrEmpty(directory))
        {
            PrivateFiles.CreateDirectory(directory);
        }
        // Written to a private temporary file and moved into place, so a concurrent starter never
        // reads a half-written key and the key is never readable by others, not even for a moment.
        var temporary = $"{fullPath}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var streamOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            streamOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using (var stream = new FileStream(temporary, streamOptions))
            {
                stream.Write(RandomNumberGenerator.GetBytes(EdgeLimits.SigningKeyBytesDefault));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: false);
        }
        catch (IOException) when (File.Exists(fullPath))
        {
            // Another process created the key first; theirs is as good as ours.
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
