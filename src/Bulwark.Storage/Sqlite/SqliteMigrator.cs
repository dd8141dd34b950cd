using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// Applies a store's numbered migrations in order, each in its own transaction, recording the
/// schema version in <c>schema_version</c>. A database whose version is newer than the code
/// knows is refused: old code must never write to a schema it does not understand.
/// </summary>
public static class SqliteMigrator
{
    public static int Apply(SqliteConnection connection, string store, IReadOnlyList<string> migrations)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(migrations);
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS schema_version (store TEXT PRIMARY KEY, version INTEGER NOT NULL)";
            create.ExecuteNonQuery();
        }
        var current = CurrentVersion(connection, store);
        if (current > migrations.Count)
        {
            throw new SchemaTooNewException(store, current, migrations.Count);
        }
        for (var version = current + 1; version <= migrations.Count; version++)
        {
            using var transaction = connection.BeginTransaction();
            using (var migrate = connection.CreateCommand())
            {
                migrate.Transaction = transaction;
                migrate.CommandText = migrations[version - 1];
                migrate.ExecuteNonQuery();
            }
            using (var record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText = "INSERT INTO schema_version (store, version) VALUES ($store, $version) " +
                    "ON CONFLICT (store) DO UPDATE SET version = excluded.version";
                record.Parameters.AddWithValue("$store", store);
                record.Parameters.AddWithValue("$version", version);
                record.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        return migrations.Count;
    }

    public static int CurrentVersion(SqliteConnection connection, string store)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT version FROM schema_version WHERE store = $store";
        query.Parameters.AddWithValue("$store", store);
        return query.ExecuteScalar() is long version ? checked((int)version) : 0;
    }
}

/// <summary>The database was written by a newer Bulwark; this one refuses to touch it.</summary>
public sealed class SchemaTooNewException(string store, int found, int known)
    : Exception($"The {store} store's schema is version {found}, newer than this build knows ({known}). Run a Bulwark version that knows schema {found}, or restore a matching backup.")
{
    public string Store { get; } = store;

    public int FoundVersion { get; } = found;

    public int KnownVersion { get; } = known;
}
