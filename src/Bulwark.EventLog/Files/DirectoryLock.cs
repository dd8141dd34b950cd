namespace Bulwark.EventLog.Files;

/// <summary>
/// The one-writer rule for a log directory: the file LOCK held open exclusively (an advisory
/// flock on Linux, released by the kernel when the process dies, so a crash never leaves a stale
/// lock). A second opener, in this process or another, is refused.
/// </summary>
internal sealed class DirectoryLock : IDisposable
{
    public const string FileName = "LOCK";
    private readonly FileStream _stream;

    private DirectoryLock(FileStream stream) => _stream = stream;

    public static DirectoryLock Acquire(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try
        {
            return new DirectoryLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException error)
        {
            throw new EventLogException(EventLogError.Locked,
                $"The event log in {directory} is open by another writer (its lock file {path} is held); one writer per directory. Stop the other process, or use another directory.",
                location: path, innerException: error);
        }
    }

    public void Dispose() => _stream.Dispose();
}
