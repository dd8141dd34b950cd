using System.Globalization;
using System.Net.Sockets;
using Npgsql;

namespace Bulwark.Storage.Postgres;

/// <summary>
/// Turns a <c>postgres://user[:password]@host[:port]/database[?sslmode=...]</c> URL into an Npgsql
/// connection string, and opens connections with one clear message when the server cannot be
/// reached or refuses us (<see cref="Sqlite.StorageOpenException"/>, naming the server, never the password).
/// </summary>
public static class PostgresConnections
{
    /// <summary>True when the text looks like a PostgreSQL URL (postgres:// or postgresql://).</summary>
    public static bool IsPostgresUrl(string? text) =>
        text is not null &&
        (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
         text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Parses a postgres:// URL; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static string ConnectionStringFromUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!IsPostgresUrl(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new FormatException($"'{Redact(url)}' is not a PostgreSQL URL: expected postgres://user[:password]@host[:port]/database.");
        }
        if (string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException($"'{Redact(url)}' names no host: expected postgres://user[:password]@host[:port]/database.");
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new FormatException($"'{Redact(url)}' names no database: expected postgres://user[:password]@host[:port]/database.");
        }
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = database,
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            try
            {
                builder[key] = value;
            }
            catch (ArgumentException exception)
            {
                throw new FormatException($"'{Redact(url)}' has an unknown or invalid option '{key}': {exception.Message}", exception);
            }
        }
        return builder.ConnectionString;
    }

    /// <summary>The URL with any password replaced by ***.</summary>
    public static string Redact(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var at = url.IndexOf('@', StringComparison.Ordinal);
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (at < 0 || scheme < 0 || at < scheme)
        {
            return url;
        }
        var colon = url.IndexOf(':', scheme + 3);
        return colon > 0 && colon < at ? string.Concat(url.AsSpan(0, colon + 1), "***", url.AsSpan(at)) : url;
    }

    /// <summary>Where a connection string points, for messages: host:port/database as user.</summary>
    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return string.Create(CultureInfo.InvariantCulture, $"{builder.Host}:{builder.Port}/{builder.Database} as {builder.Username}");
    }

    /// <summary>Opens a connection, turning "cannot reach / refused / no such database" into one clear <see cref="Sqlite.StorageOpenException"/>.</summary>
    public static NpgsqlConnection Open(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        try
        {
            return dataSource.OpenConnection();
        }
        catch (Exception exception) when (exception is NpgsqlException or SocketException or TimeoutException)
        {
            throw new Sqlite.StorageOpenException(
                $"Cannot connect to PostgreSQL at {Describe(dataSource.ConnectionString)}: {Reason(exception)}", exception);
        }
    }

    private static string Reason(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is PostgresException postgres)
            {
                return $"{postgres.SqlState} {postgres.MessageText}";
            }
            if (current is SocketException socket)
            {
                return socket.Message;
            }
        }
        return exception.Message;
    }
}
