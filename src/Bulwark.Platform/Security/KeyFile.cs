namespace Bulwark.Platform.Security;

/// <summary>
/// Creates a key file once, safely among processes that start together: the content goes to a
/// temporary file created owner-only (0600), flushed to the device, then moved into place without
/// overwriting. When another process created the key first, theirs is the one everybody uses.
/// </summary>
public static class KeyFile
{
    /// <summary>True when this call created <paramref name="fullPath"/>; false when it already existed (someone else won).</summary>
    public static bool TryCreate(string fullPath, ReadOnlySpan<byte> content)
    {
        var directory = Path.GetDirectoryName(fullPath);
        if (!string.IsNullOrEmpty(directory))
        {
            PrivateFiles.CreateDirectory(directory);
        }
        var temporary = fullPath + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(fullPath))
        {
            return false;
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
