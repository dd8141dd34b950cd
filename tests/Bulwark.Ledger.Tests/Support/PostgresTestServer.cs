using System.Globalization;
using Bulwark.Storage.Postgres;

namespace Bulwark.Ledger.Tests.Support;

/// <summary>
/// One throw-away PostgreSQL server for the whole test assembly (started on first use, stopped
/// with <c>pg_ctl -m fast</c> and its directory removed when the test process exits); each test
/// class or property case takes a database of its own.
/// </summary>
public static class PostgresTestServer
{
    private static readonly Lazy<TemporaryPostgresServer> Server = new(() =>
    {
        var server = TemporaryPostgresServer.Start();
        server.RemoveWhenThisProcessExits();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeImmediately();
        return server;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    private static int _databases;

    public static TemporaryPostgresServer Instance => Server.Value;

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public static string NewDatabase(string prefix) =>
        Instance.CreateDatabase(string.Create(CultureInfo.InvariantCulture, $"{prefix}_{Interlocked.Increment(ref _databases)}"));
}
