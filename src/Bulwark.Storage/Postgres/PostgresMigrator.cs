using Bulwark.Storage.Sqlite;
using Npgsql;

namespace Bulwark.Storage.Postgres;

/// <summary>
/// Applies a store's numbered migrations inside its own schema, each in its own transaction,
/// recording the version in <c>&lt;schema&gt;.schema_version</c>. Two processes starting at once
/// serialise on a transaction-scoped advisory lock keyed by the schema name, so a migration runs
/// once. A schema whose version is newer than the code knows is refused
/// (<see cref="SchemaTooNewException"/>): old code must never write to a schema it does not understand.
/// </summary>
public static class PostgresMigrator
{
    public static int Apply(NpgsqlConnection connection, string schema, IReadOnlyList<string> migrations)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrWhiteSpace(schema);
        ArgumentNullException.ThrowIfNull(migrations);
        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext($1))", schema);
        Execute(connection, transaction,
            $"CREATE SCHEMA IF NOT EXISTS {schema}; " +
            $"CREATE TABLE IF NOT EXISTS {schema}.schema_version (store text PRIMARY KEY, version integer NOT NULL)");
        var current = CurrentVersion(connection, transaction, schema);
        if (current > migrations.Count)
        {
            throw new SchemaTooNewException(schema, current, migrations.Count);
        }
        for (var version = current + 1; version <= migrations.Count; version++)
        {
            Execute(connection, transaction, $"SET LOCAL search_path TO {schema}; " + migrations[version - 1]);
            Execute(connection, transaction,
                $"INSERT INTO {schema}.schema_version (store, version) VALUES ('{schema}', {version}) " +
                "ON CONFLICT (store) DO UPDATE SET version = excluded.version");
        }
        transaction.Commit();
        return migrations.Count;
    }

    public static int CurrentVersion(NpgsqlConnection connection, NpgsqlTransaction? transaction, string schema)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var query = new NpgsqlCommand($"SELECT version FROM {schema}.schema_version WHERE store = $1", connection, transaction);
        query.Parameters.Add(new NpgsqlParameter { Value = schema });
        return query.ExecuteScalar() is int version ? version : 0;
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, string? argument = null)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        if (argument is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = argument });
        }
        command.ExecuteNonQuery();
    }
}
