using Bulwark.Storage.Sqlite;
using Bulwark.Support.Storage;
using Microsoft.Data.Sqlite;

namespace Bulwark.Support.Tests.Storage;

public sealed class SqliteSupportStoreTests : SupportStoreContractTests, IDisposable
{
    private readonly string _directory = SupportTestHost.NewDirectory();
    private readonly SqliteDatabase _database;
    private readonly SqliteSupportStore _store;

    public SqliteSupportStoreTests()
    {
        _database = new SqliteDatabase(Path.Combine(_directory, "support.db"));
        _store = new SqliteSupportStore(_database);
    }

    protected override ISupportStore Store => _store;

    protected override string DropUpdateTrigger => "DROP TRIGGER audit_entries_no_update";

    protected override string DropDeleteTrigger => "DROP TRIGGER audit_entries_no_delete";

    protected override async Task ExecuteRawAsync(string sql)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Reopen_KeepsDataAndSchemaVersion_AndANewerSchemaIsRefused()
    {
        var entry = await _store.AppendAuditAsync(new AuditDraft(1, "operator", "customer.viewed", "c1", "why", "{}", ""), CancellationToken.None);

        var reopened = new SqliteSupportStore(_database);

        Assert.Equal(entry, (await reopened.ReadAuditAsync(0, 10, CancellationToken.None)).Single());
        using (var connection = _database.Open())
        {
            Assert.Equal(3, SqliteMigrator.CurrentVersion(connection, SqliteSupportStore.StoreName));
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE schema_version SET version = 42 WHERE store = 'support'";
            command.ExecuteNonQuery();
        }
        Assert.Throws<SchemaTooNewException>(() => new SqliteSupportStore(_database));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
