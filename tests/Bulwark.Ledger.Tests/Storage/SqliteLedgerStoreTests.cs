using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Bulwark.Ledger.Tests.Storage;

/// <summary>SQLite-only behaviour: the page size of new and existing databases.</summary>
public sealed class SqliteLedgerStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new(inMemory: true);

    [Fact]
    public void NewDatabase_GetsLargePages_AndWal()
    {
        var path = _directory.File("new.db");
        using (var store = new SqliteLedgerStore(path))
        {
            store.Open(4);
        }

        Assert.Equal((8_192L, "wal"), (Pragma<long>(path, "page_size"), Pragma<string>(path, "journal_mode")));
    }

    [Fact]
    public void ExistingDatabaseWithDefaultPages_OpensAndKeepsThem()
    {
        var path = _directory.File("old.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE unrelated (x INTEGER)";
            command.ExecuteNonQuery();
        }

        using (var store = new SqliteLedgerStore(path))
        {
            store.Open(4);
            Assert.Empty(store.LoadAccounts());
        }

        Assert.Equal(4_096L, Pragma<long>(path, "page_size"));
    }

    public void Dispose() => _directory.Dispose();

    private static T Pragma<T>(string path, string name)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA " + name;
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }
}
