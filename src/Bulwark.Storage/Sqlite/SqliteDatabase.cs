using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// Opens SQLite connections the way every Bulwark store needs them: WAL journal, full
/// synchronous commits (a commit is on disk before the caller hears "ok"), foreign keys on and
/// a busy timeout so that a reader never fails because a writer holds the lock briefly.
/// </summary>
public sealed class SqliteDatabase
{
    /// <summary>How long a connection waits for a lock held by another connection.</summary>
    public const int BusyTimeoutMillisecondsDefault = 5_000;

    private readonly string _connectionString;

    public SqliteDatabase(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory))
        {
            CreatePrivateDirectory(directory);
        }
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = BusyTimeoutMillisecondsDefault / 1000,
        }.ToString();
    }

    public string Path { get; }

    /// <summary>
    /// A new database starts as an empty file of mode 0600 (call this before anything else creates the file) (SQLite takes an empty file for a new
    /// database), because SQLite would create it 0644; its -wal and -shm files are then created with
    /// the database file's mode (SQLite's own rule), so all three stay private to the bank's user.
    /// </summary>
    public static void CreatePrivateFile(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
        {
            return;
        }
        try
        {
            using var created = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another connection created it first: SQLite opens whatever is there.
        }
    }

    private static void CreatePrivateDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Opens a connection with the durability and locking settings applied.</summary>
    public SqliteConnection Open()
    {
        CreatePrivateFile(Path);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText =
                "PRAGMA journal_mode = WAL;" +
                "PRAGMA synchronous = FULL;" +
                "PRAGMA foreign_keys = ON;" +
                $"PRAGMA busy_timeout = {BusyTimeoutMillisecondsDefault};";
            command.ExecuteNonQuery();
            return connection;
        }
        catch (SqliteException error)
        {
            connection.Dispose();
            throw CannotOpen(error);
        }
    }

    /// <summary>Opens a connection that cannot write: used by checkers reading from outside.</summary>
    public SqliteConnection OpenReadOnly()
    {
        if (!File.Exists(Path))
        {
            throw new FileNotFoundException($"No database at {Path}.", Path);
        }
        var builder = new SqliteConnectionStringBuilder(_connectionString) { Mode = SqliteOpenMode.ReadOnly };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"PRAGMA busy_timeout = {BusyTimeoutMillisecondsDefault};";
            command.ExecuteNonQuery();
            return connection;
        }
        catch (SqliteException error)
        {
            connection.Dispose();
            throw CannotOpen(error);
        }
    }

    /// <summary>Names the file: SQLite's own message ("file is not a database") does not.</summary>
    private StorageOpenException CannotOpen(SqliteException error) =>
        new($"Cannot open the database {Path}: {error.Message}", error);
}
