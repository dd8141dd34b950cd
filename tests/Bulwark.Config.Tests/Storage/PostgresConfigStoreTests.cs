using Bulwark.Config.Storage;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Storage.Sqlite;
using Npgsql;

namespace Bulwark.Config.Tests.Storage;

/// <summary>The store contract on PostgreSQL (a database of its own per test on the assembly's server).</summary>
public sealed class PostgresConfigStoreTests : ConfigStoreContractTests, IDisposable
{
    private readonly string _database = PostgresTestServer.NewDatabase("config");
    private readonly PostgresConfigStore _store;

    public PostgresConfigStoreTests() => _store = new PostgresConfigStore(_database);

    protected override IConfigStore Store => _store;

    [Fact]
    public async Task Reopen_KeepsData_AndANewerSchemaIsRefused()
    {
        await _store.PutAsync("k", "v", 0, "tester", "why", 1, CancellationToken.None);
        using (var reopened = new PostgresConfigStore(_database))
        {
            Assert.Equal("v", (await reopened.GetAsync("k", CancellationToken.None)).Latest!.Value);
        }
        using (var connection = new NpgsqlConnection(_database))
        {
            connection.Open();
            using var command = new NpgsqlCommand("UPDATE config.schema_version SET version = 42", connection);
            command.ExecuteNonQuery();
        }
        var error = Assert.Throws<SchemaTooNewException>(() => new PostgresConfigStore(_database));
        Assert.Contains("newer than this build knows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_WritersThroughTwoStoresOnOneDatabase_ShareOneRevisionSequence()
    {
        using var second = new PostgresConfigStore(_database);
        var writes = Enumerable.Range(0, 10).Select(i => Task.Run(() =>
            (i % 2 == 0 ? (IConfigStore)_store : second).PutAsync($"k{i}", "v", 0, "tester", "why", 1, CancellationToken.None)));

        var results = await Task.WhenAll(writes);

        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), results.Select(r => r.Change!.Revision).Order());
        Assert.Equal(10, (await second.StateAsync(CancellationToken.None)).Revision);
    }

    public void Dispose() => _store.Dispose();
}
