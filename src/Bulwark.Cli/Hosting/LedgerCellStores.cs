using Npgsql;

namespace Bulwark.Cli.Hosting;

/// <summary>
/// Where each ledger cell of a cluster keeps its data (docs/internals/cells.md, "Cells in a
/// cluster"). On SQLite: <c>ledger.db</c> for cell "a" and <c>ledger-NAME.db</c> for the others,
/// in the ledger's data directory (<see cref="BankPaths.LedgerCell"/>). On PostgreSQL: cell "a" in
/// the database the store URL names (where the ledger of a cluster from before cells already is),
/// every other cell in a database of its own on the same server, named after the cell:
/// <c>DATABASE_ledger_NAME</c> ('-' in the cell's name becomes '_', which no cell name holds, so
/// two cells never share a name). One rule, used by <c>serve --cell</c>, <c>cluster up</c> (which
/// creates the databases) and <c>ledger check --state</c>.
/// </summary>
public static class LedgerCellStores
{
    /// <summary>The longest database name PostgreSQL keeps whole (NAMEDATALEN - 1); longer names are cut, so they are refused.</summary>
    public const int DatabaseNameLengthMax = 63;

    /// <summary>The name of cell <paramref name="cell"/>'s database when cell "a" is in <paramref name="database"/>.</summary>
    public static string DatabaseName(string database, string cell)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(database);
        ArgumentException.ThrowIfNullOrWhiteSpace(cell);
        if (cell == "a")
        {
            return database;
        }
        var name = $"{database}_ledger_{cell.Replace('-', '_')}";
        if (name.Length > DatabaseNameLengthMax)
        {
            throw new InvalidOperationException(
                $"cell '{cell}' would keep its data in the database {name}, longer than PostgreSQL's {DatabaseNameLengthMax} characters: give the store URL a shorter database name.");
        }
        return name;
    }

    /// <summary>The connection string of cell <paramref name="cell"/>'s database: <paramref name="connectionString"/> (cell "a"'s) with the database replaced.</summary>
    public static string PostgresConnectionString(string connectionString, string cell)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Database = DatabaseName(builder.Database ?? builder.Username ?? "postgres", cell);
        return builder.ConnectionString;
    }

    /// <summary>
    /// Creates the databases of the cells other than "a" that do not exist yet, connected to cell
    /// "a"'s database (the user must be allowed to create databases; when it is not, the error
    /// names the database to create by hand).
    /// </summary>
    public static async Task EnsureDatabasesAsync(string connectionString, IEnumerable<string> cells, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        foreach (var cell in cells.Where(cell => cell != "a"))
        {
            var name = new NpgsqlConnectionStringBuilder(PostgresConnectionString(connectionString, cell)).Database!;
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new NpgsqlParameter { Value = name } } };
            if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
            {
                continue;
            }
            try
            {
                // The name is made of the store's database name, "_ledger_" and a cell name ([a-z0-9_]): quoted, it is taken as is.
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.DuplicateDatabase)
            {
                // Made at the same moment by someone else: it exists, which is all that was needed.
            }
            catch (PostgresException error)
            {
                throw new InvalidOperationException(
                    $"cannot create the database {name} of ledger cell '{cell}' ({error.MessageText}): create it (CREATE DATABASE \"{name}\" OWNER {builder.Username}) and try again.", error);
            }
        }
    }

    /// <summary>True when cell "a"'s PostgreSQL database already holds a ledger (a cluster from before cells, or a cell "a" made earlier).</summary>
    public static async Task<bool> PostgresLedgerExistsAsync(string connectionString, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT to_regclass('ledger.accounts') IS NOT NULL", connection);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }
}
