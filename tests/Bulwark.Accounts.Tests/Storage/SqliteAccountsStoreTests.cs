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
        Assert.Equal(9, SqliteMigrator.CurrentVersion(connection, SqliteAccountsStore.StoreName));
    }

    [Fact]
    public async Task Open_StoreFromBeforeSyntheticCustomers_MigratedAndItsCustomersAreNotSynthetic()
    {
        var path = Path.Combine(_directory, "version-4.db");
        var database = new SqliteDatabase(path);
        using (var connection = database.Open())
        {
            // Version 4's customers table, as a bank that ran before issue 13 has it (the other tables are not read here).
            SqliteMigrator.Apply(connection, SqliteAccountsStore.StoreName,
            [
                "CREATE TABLE customers (customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, email_normalised TEXT NOT NULL UNIQUE, created_at_unix_ms INTEGER NOT NULL);" +
                " CREATE TABLE current_accounts (account_id TEXT PRIMARY KEY); CREATE TABLE cards (card_id TEXT PRIMARY KEY, last_four TEXT NOT NULL)",
                "SELECT 1",
                "SELECT 1",
                "SELECT 1",
            ]);
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO customers VALUES ('0193a3a0-0000-7000-8000-000000000001', 'Old Customer', 'old@example.com', 'old@example.com', 1)";
            insert.ExecuteNonQuery();
        }

        var store = new SqliteAccountsStore(database);

        var old = await store.GetCustomerAsync("0193a3a0-0000-7000-8000-000000000001", CancellationToken.None);
        Assert.NotNull(old);
        Assert.False(old.Synthetic);
        Assert.Equal([old], await store.ListCustomersAsync(null, 10, CancellationToken.None));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
