using System.Data;
using System.Data.Common;
using Bulwark.Storage.Postgres;
using Npgsql;

namespace Bulwark.Config.Storage;

/// <summary>
/// The configuration store on PostgreSQL, in schema <c>config</c> (migrated at start, a newer
/// schema refused), shared by every instance of the service. Unlike SQLite, PostgreSQL runs
/// writers concurrently, so a write locks the revision counter's row (<c>SELECT … FOR UPDATE</c>)
/// before anything else: writers through any instance serialise on it, each takes the next
/// revision, and each commits before the next can take one — so no watcher polling for
/// "revision above N" can see N+1 before N. Reads run in REPEATABLE READ transactions (one
/// snapshot). Keys are compared in the "C" collation, byte order, as on SQLite.
/// </summary>
public sealed class PostgresConfigStore : SqlConfigStore, IDisposable
{
    public const string Schema = "config";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE config_state (
            id integer PRIMARY KEY CHECK (id = 1),
            revision bigint NOT NULL,
            compacted_revision bigint NOT NULL
        );
        INSERT INTO config_state (id, revision, compacted_revision) VALUES (1, 0, 0);
        CREATE TABLE config_changes (
            revision bigint PRIMARY KEY,
            config_key text COLLATE "C" NOT NULL,
            value text NOT NULL,
            deleted boolean NOT NULL,
            changed_at_unix_ms bigint NOT NULL,
            changed_by text NOT NULL,
            reason text NOT NULL
        );
        CREATE UNIQUE INDEX config_changes_by_key ON config_changes (config_key, revision);
        """,
    ];

    private readonly NpgsqlDataSource _dataSource;

    public PostgresConfigStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = Schema, MaxAutoPrepare = 32, AutoPrepareMinUsages = 2 });
        using var connection = PostgresConnections.Open(_dataSource);
        PostgresMigrator.Apply(connection, Schema, Migrations);
    }

    public void Dispose() => _dataSource.Dispose();

    protected override string LockStateClause => " FOR UPDATE";

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);

    protected override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
}
