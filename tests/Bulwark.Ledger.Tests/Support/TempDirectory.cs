namespace Bulwark.Ledger.Tests.Support;

/// <summary>
/// A directory of its own for one test, deleted afterwards. <paramref name="inMemory"/> puts it on
/// /dev/shm when there is one: the property tests commit thousands of tiny batches and test
/// decisions, not the disk, so they need not pay for fsync.
/// </summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(bool inMemory = false)
    {
        var root = inMemory && Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();
        Path = System.IO.Path.Combine(root, "bulwark-ledger-tests", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a killed child process; the OS temp cleaner takes it.
        }
    }
}
