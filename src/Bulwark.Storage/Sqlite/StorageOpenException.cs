namespace Bulwark.Storage.Sqlite;

/// <summary>A database file could not be opened: missing permissions, not a database, damaged. The message names the file.</summary>
public sealed class StorageOpenException : IOException
{
    public StorageOpenException()
    {
    }

    public StorageOpenException(string message)
        : base(message)
    {
    }

    public StorageOpenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
