using System.Globalization;
using System.Runtime.InteropServices;

namespace Bulwark.Platform.Security;

/// <summary>
/// What Bulwark writes is its own: directories 0700, files 0600, and a key file that other users
/// can read or change is refused. A database or a key readable by the whole machine hands card
/// tokens, balances and the keys that make customer ids and tokens to anyone with a shell on it.
/// </summary>
public static partial class PrivateFiles
{
    /// <summary>rwx for the owner only.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>rw for the owner only.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupAndOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>umask 077: no permission for group or others on anything created from now on.</summary>
    private const uint OwnerOnlyMask = 0x3F;

    /// <summary>
    /// Makes every file and directory this process creates from now on private to its user (umask
    /// 077), whoever creates it: SQLite (databases, their -wal and -shm files), the key files, the
    /// logs and state files, and libraries that take the default mode. Called first thing by the
    /// commands that own a data directory (run, serve, backup, restore, cards clear); not by the
    /// local cluster, whose PostgreSQL and etcd directories are theirs to set.
    /// </summary>
    public static void RestrictNewFilesToOwner()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = SetUmask(OwnerOnlyMask);
        }
    }

    /// <summary>
    /// Creates a directory and each missing parent as 0700 (<see cref="Directory.CreateDirectory(string, UnixFileMode)"/>
    /// gives the mode to the last one only); an existing directory is left as it is.
    /// </summary>
    public static DirectoryInfo CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return Directory.CreateDirectory(path);
        }
        var missing = new Stack<string>();
        for (var current = Path.GetFullPath(path); !string.IsNullOrEmpty(current) && !Directory.Exists(current); current = Path.GetDirectoryName(current))
        {
            missing.Push(current);
        }
        while (missing.TryPop(out var directory))
        {
            Directory.CreateDirectory(directory, DirectoryMode);
        }
        return new DirectoryInfo(path);
    }

    /// <summary>
    /// Refuses a key file that other users may read or write (any group or other permission bit):
    /// the key may already be known to them, or be theirs. The message names the file and the fix.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file is readable, writable or executable by group or others.</exception>
    public static void RefuseSharedKeyFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var fullPath = Path.GetFullPath(path);
        var mode = File.GetUnixFileMode(fullPath);
        if ((mode & GroupAndOthers) != 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The key file {fullPath} has mode {Octal(mode)}: other users can read or change it, so Bulwark will not use it. Make it private with `chmod 600 {fullPath}` and start again; if others could read it, treat the key as exposed and rotate it (docs/runbooks)."));
        }
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint SetUmask(uint mask);
}
