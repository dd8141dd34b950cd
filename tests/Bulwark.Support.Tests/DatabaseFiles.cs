namespace Bulwark.Support.Tests;

/// <summary>Searches the raw bytes of a SQLite database and its WAL for a secret that must not be there.</summary>
public static class DatabaseFiles
{
    public static bool Contain(string databasePath, byte[] needle)
    {
        foreach (var path in new[] { databasePath, databasePath + "-wal", databasePath + "-journal" })
        {
            if (!File.Exists(path))
            {
                continue;
            }
            // The service keeps the files open; share them rather than wait for it to stop.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            if (memory.ToArray().AsSpan().IndexOf(needle) >= 0)
            {
                return true;
            }
        }
        return false;
    }
}
