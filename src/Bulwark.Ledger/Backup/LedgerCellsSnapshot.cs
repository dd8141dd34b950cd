using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Bulwark.Ledger.Backup;

/// <summary>Limits of <see cref="LedgerCellsSnapshot.Take{T}"/>; the defaults are what <c>bulwark backup</c> uses.</summary>
public sealed record LedgerSnapshotOptions
{
    /// <summary>
    /// How long one attempt may spend taking every cell's write lock. Each cell's writer waits for
    /// the lock up to its busy timeout (<see cref="Bulwark.Storage.Sqlite.SqliteDatabase.BusyTimeoutMillisecondsDefault"/>,
    /// 5 s) before it fails its batch; the first cell locked waits at most this long plus the few
    /// milliseconds the read snapshots take, so keeping this at a fifth of that timeout means a
    /// backup never fails a batch, however busy the cells are.
    /// </summary>
    public int LockAllMilliseconds { get; init; } = 1_000;

    /// <summary>Attempts before giving up: a cell whose writer holds its lock for a whole attempt is busy with one long batch.</summary>
    public int Attempts { get; init; } = 5;

    /// <summary>The pause between attempts, so that writers held by a failed attempt catch up first.</summary>
    public int RetryPauseMilliseconds { get; init; } = 200;
}

/// <summary>
/// Every cell of a ledger, and whatever is read while they are held (the placement map), at ONE
/// moment, for a backup taken while the bank runs (docs/runbooks/backup-and-restore.md).
/// <para>
/// The cells' write locks are taken in name order (<c>BEGIN IMMEDIATE</c> on a connection of its
/// own per cell), so that no cell commits from the moment the last one is held; a read transaction
/// is then opened on a second connection per cell (in WAL mode it reads the last commit before the
/// locks, and keeps reading it whatever commits later), the caller's read runs, and the locks are
/// released: the writers wait that long and no longer. Each cell is then copied from its read
/// transaction with SQLite's online backup API, which reads through the source connection's open
/// transaction (backup.c opens one only when the source has none), so every copy is the state at
/// that one moment, however long the copies take.
/// </para>
/// <para>
/// Copies taken one after another (as before) were a moment each: a transfer debited in cell b
/// after b's copy and delivered to cell a before a's copy left a credit leg with no debit leg in
/// any copy, and a partition moving between cells could be seen owned twice or by nobody.
/// </para>
/// </summary>
public sealed class LedgerCellsSnapshot : IDisposable
{
    private readonly Dictionary<string, SqliteConnection> _snapshots;

    private LedgerCellsSnapshot(Dictionary<string, SqliteConnection> snapshots, TimeSpan writersHeld, int attempts)
    {
        _snapshots = snapshots;
        WritersHeld = writersHeld;
        Attempts = attempts;
    }

    /// <summary>How long the cells' writers were held: from the first cell's lock to the last release.</summary>
    public TimeSpan WritersHeld { get; }

    /// <summary>Attempts it took to hold every cell at once.</summary>
    public int Attempts { get; }

    /// <summary>The cells' database files, as given to <see cref="Take{T}"/>.</summary>
    public IReadOnlyCollection<string> Cells => _snapshots.Keys;

    /// <summary>
    /// Holds every cell in <paramref name="cellPaths"/> at once, runs <paramref name="readWhileHeld"/>
    /// while no cell can commit, and returns the cells' snapshots with what it read. Throws
    /// <see cref="IOException"/> when the cells could not all be held within the limits.
    /// </summary>
    public static (LedgerCellsSnapshot Snapshot, T Read) Take<T>(IReadOnlyList<string> cellPaths, Func<T> readWhileHeld, LedgerSnapshotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cellPaths);
        ArgumentNullException.ThrowIfNull(readWhileHeld);
        if (cellPaths.Count == 0)
        {
            throw new ArgumentException("At least one cell.", nameof(cellPaths));
        }
        options ??= new LedgerSnapshotOptions();
        // Name order: two snapshots taken at once lock in the same order and cannot hold each other up for long.
        var ordered = cellPaths.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        string busy = "";
        for (var attempt = 1; attempt <= options.Attempts; attempt++)
        {
            if (TryTake(ordered, readWhileHeld, options, attempt, out var taken, out busy) is { } snapshot)
            {
                return (snapshot, taken!);
            }
            Thread.Sleep(options.RetryPauseMilliseconds);
        }
        throw new IOException(string.Create(CultureInfo.InvariantCulture,
            $"cannot hold every ledger cell at one moment: {busy} stayed locked by its writer through {options.Attempts} attempts of {options.LockAllMilliseconds} ms. Try again at a quieter time."));
    }

    /// <summary>Copies one cell, as it was at the snapshot's moment, into a new database at <paramref name="target"/>.</summary>
    public void CopyTo(string cellPath, string target)
    {
        ArgumentNullException.ThrowIfNull(cellPath);
        if (!_snapshots.TryGetValue(Path.GetFullPath(cellPath), out var source))
        {
            throw new ArgumentException($"{cellPath} is not a cell of this snapshot.", nameof(cellPath));
        }
        using var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Pooling = false }.ToString());
        to.Open();
        source.BackupDatabase(to);
    }

    public void Dispose()
    {
        foreach (var connection in _snapshots.Values)
        {
            connection.Dispose();
        }
        _snapshots.Clear();
    }

    private static LedgerCellsSnapshot? TryTake<T>(string[] cells, Func<T> readWhileHeld, LedgerSnapshotOptions options, int attempt, out T? read, out string busy)
    {
        read = default;
        busy = "";
        var locks = new List<SqliteConnection>();
        var snapshots = new Dictionary<string, SqliteConnection>(StringComparer.Ordinal);
        var started = Stopwatch.GetTimestamp();
        var taken = false;
        try
        {
            foreach (var cell in cells)
            {
                var left = options.LockAllMilliseconds - (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var writeLock = Open(cell, SqliteOpenMode.ReadWrite);
                locks.Add(writeLock);
                raw.sqlite3_busy_timeout(writeLock.Handle, Math.Max(left, 0));
                if (left <= 0 || !TryExec(writeLock, "BEGIN IMMEDIATE"))
                {
                    busy = cell;
                    return null;
                }
            }
            foreach (var cell in cells)
            {
                var snapshot = Open(cell, SqliteOpenMode.ReadOnly);
                snapshots.Add(cell, snapshot);
                // BEGIN alone reads nothing: the first read fixes the snapshot, while the locks hold.
                Exec(snapshot, "BEGIN");
                Exec(snapshot, "SELECT count(*) FROM sqlite_master");
            }
            read = readWhileHeld();
            foreach (var writeLock in locks)
            {
                Exec(writeLock, "ROLLBACK");
            }
            taken = true;
            return new LedgerCellsSnapshot(snapshots, Stopwatch.GetElapsedTime(started), attempt);
        }
        finally
        {
            // Released however this ends: a writer must never wait on a backup that gave up.
            foreach (var writeLock in locks)
            {
                writeLock.Dispose();
            }
            if (!taken)
            {
                foreach (var snapshot in snapshots.Values)
                {
                    snapshot.Dispose();
                }
            }
        }
    }

    private static SqliteConnection Open(string path, SqliteOpenMode mode)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"There is no ledger cell at {path}.", path);
        }
        // Not pooled: closing must end the transaction and let go of the file now.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>False when the lock stayed busy past the connection's busy timeout.</summary>
    private static bool TryExec(SqliteConnection connection, string sql)
    {
        // Through SQLite's own API: Microsoft.Data.Sqlite retries a busy statement for its command
        // timeout (30 s) on top of the busy timeout, which would hold the cells already locked that long.
        var result = raw.sqlite3_exec(connection.Handle, sql);
        if (result is raw.SQLITE_BUSY or raw.SQLITE_LOCKED)
        {
            return false;
        }
        SqliteException.ThrowExceptionForRC(result, connection.Handle);
        return true;
    }

    private static void Exec(SqliteConnection connection, string sql) =>
        SqliteException.ThrowExceptionForRC(raw.sqlite3_exec(connection.Handle, sql), connection.Handle);
}
