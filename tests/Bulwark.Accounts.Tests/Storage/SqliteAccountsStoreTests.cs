using Bulwark.Accounts.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Accounts.Tests.Storage;

public sealed class SqliteAccountsStoreTests : AccountsStoreContractTests, IDisposable
{
    private readonly string _directory = AccountsTestHost.NewDirectory();
    private readonly SqliteAccountsStore _store;

    public SqliteAccountsStoreTests() => _store = new SqliteAccountsStore(new SqliteDatabase(Path.Combine(_directory, "accounts.db")));

    protected override IAccountsStore Store => _store;

    [Fact]
    public async Task Open_ExistingFile_KeepsDataAndSchemaVersion()
    {
        var customer = new CustomerRecord(Guid.NewGuid().ToString(), "Reopened", "r@example.com", "r@example.com", 1);
        var account = new CurrentAccountRecord(Guid.NewGuid().ToString(), customer.CustomerId, "Current account", "040075", "00000001", "GBP", 0, AccountsTestHost.NewKey(), 1);
        await _store.CreateCustomerAsync(customer, null, account, CancellationToken.None);

        var database = new SqliteDatabase(Path.Combine(_directory, "accounts.db"));
        var reopened = new SqliteAccountsStore(database);
        using var connection = database.Open();

        Assert.Equal(customer, await reopened.GetCustomerAsync(customer.CustomerId, CancellationToken.None));
        Assert.Equal(4, SqliteMigrator.CurrentVersion(connection, SqliteAccountsStore.StoreName));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
