using System.Runtime.InteropServices;

namespace Bulwark.Platform.Placement;

/// <summary>
/// A small file replaced whole: a 0600 temporary file beside it, written (and, when durable,
/// fsync'd), renamed over the file (and, when durable, the directory fsync'd), so a reader sees
/// the old bytes or the new ones, never half, and a crash keeps one of them.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> bytes, bool durable)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                if (durable)
                {
                    stream.Flush(flushToDisk: true);
                }
            }
            File.Move(temporary, path, overwrite: true);
            if (durable)
            {
                DirectorySync.Flush(directory);
            }
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>fsync of a directory, so that a rename in it survives a crash. Not offered by .NET's file APIs (they refuse to open a directory).</summary>
    private static class DirectorySync
    {
        private const int ReadOnly = 0;

        public static void Flush(string directory)
        {
            if (OperatingSystem.IsWindows())
            {
                return;
            }
            var descriptor = Open(directory, ReadOnly);
            if (descriptor < 0)
            {
                throw new IOException($"cannot open {directory} to flush it (errno {Marshal.GetLastPInvokeError()})");
            }
            try
            {
                if (Fsync(descriptor) != 0)
                {
                    throw new IOException($"fsync of {directory} failed (errno {Marshal.GetLastPInvokeError()})");
                }
            }
            finally
            {
                _ = Close(descriptor);
            }
        }

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        private static extern int Fsync(int descriptor);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        private static extern int Close(int descriptor);
    }
}
