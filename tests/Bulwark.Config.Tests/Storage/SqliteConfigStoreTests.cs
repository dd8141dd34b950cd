using Bulwark.Config.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Config.Tests.Storage;

/// <summary>The store contract on SQLite (a file of its own per test).</summary>
public sealed class SqliteConfigStoreTests : ConfigStoreContractTests, IDisposable
{
    private readonly string _directory = ConfigTestHost.NewDirectory();
    private readonly SqliteConfigStore _store;

    public SqliteConfigStoreTests() => _store = new SqliteConfigStore(new SqliteDatabase(DatabasePath));

    private string DatabasePath => Path.Combine(_directory, "config.db");

    protected override IConfigStore Store => _store;

    [Fact]
    public async Task Reopen_KeepsDataAndRevision_AndANewerSchemaIsRefused()
    {
        await _store.PutAsync("k", "v", 0, "tester", "why", 1, CancellationToken.None);
        var database = new SqliteDatabase(DatabasePath);

        var reopened = new SqliteConfigStore(database);

        Assert.Equal("v", (await reopened.GetAsync("k", CancellationToken.None)).Latest!.Value);
        Assert.Equal(2, (await reopened.PutAsync("j", "w", 0, "tester", "why", 1, CancellationToken.None)).Change!.Revision);
        using (var connection = database.Open())
        {
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE schema_version SET version = 42 WHERE store = 'config'";
            command.ExecuteNonQuery();
        }
        var error = Assert.Throws<SchemaTooNewException>(() => new SqliteConfigStore(database));
        Assert.Contains("newer than this build knows", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
