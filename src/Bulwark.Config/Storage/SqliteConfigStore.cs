using System.Data;
using System.Data.Common;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Config.Storage;

/// <summary>
/// The embedded configuration store: one SQLite file (WAL, synchronous FULL). Writes run in
/// IMMEDIATE transactions — SQLite's one writer at a time — and reads in deferred ones, each a
/// consistent snapshot (WAL). One process owns the file.
/// </summary>
public sealed class SqliteConfigStore : SqlConfigStore
{
    public const string StoreName = "config";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE config_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            revision INTEGER NOT NULL,
            compacted_revision INTEGER NOT NULL
        );
        INSERT INTO config_state (id, revision, compacted_revision) VALUES (1, 0, 0);
        CREATE TABLE config_changes (
            revision INTEGER PRIMARY KEY,
            config_key TEXT NOT NULL,
            value TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            changed_at_unix_ms INTEGER NOT NULL,
            changed_by TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE UNIQUE INDEX config_changes_by_key ON config_changes (config_key, revision);
        """,
    ];

    private readonly SqliteDatabase _database;

    public SqliteConfigStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        using var connection = _database.Open();
        SqliteMigrator.Apply(connection, StoreName, Migrations);
    }

    protected override string LockStateClause => "";

    protected override Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => Task.FromResult<DbConnection>(_database.Open());

    protected override Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(IsolationLevel.Serializable, deferred: true));

    protected override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(IsolationLevel.Serializable, deferred: false));
}
