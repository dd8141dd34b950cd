using Bulwark.Lab.Postgres;
using Bulwark.Storage.Postgres;

namespace Bulwark.Ledger.Tests.Support;

/// <summary>
/// One throw-away PostgreSQL server for the whole test assembly (<see cref="TemporaryPostgresServer.Shared"/>:
/// started on first use, removed when the test process exits); each test class or property case
/// takes a database of its own.
/// </summary>
public static class PostgresTestServer
{
    public static TemporaryPostgresServer Instance => TemporaryPostgresServer.Shared;

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public static string NewDatabase(string prefix) => Instance.CreateUniqueDatabase(prefix);
}
