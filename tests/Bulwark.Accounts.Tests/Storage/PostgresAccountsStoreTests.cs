using Bulwark.Accounts.Storage;
using Bulwark.Ledger.Tests.Support;
using Bulwark.Storage.Sqlite;
using Npgsql;

namespace Bulwark.Accounts.Tests.Storage;

/// <summary>The accounts store contract on PostgreSQL (a database of its own on the assembly's server).</summary>
public sealed class PostgresAccountsStoreTests : AccountsStoreContractTests, IDisposable
{
    private readonly string _database = PostgresTestServer.NewDatabase("accounts");
    private readonly PostgresAccountsStore _store;

    public PostgresAccountsStoreTests() => _store = new PostgresAccountsStore(_database);

    protected override IAccountsStore Store => _store;

    [Fact]
    public async Task Reopen_KeepsData_AndANewerSchemaIsRefused()
    {
        var customer = new CustomerRecord(Guid.NewGuid().ToString(), "Reopened", "r@example.com", "r@example.com", 1);
        var account = new CurrentAccountRecord(Guid.NewGuid().ToString(), customer.CustomerId, "Current account", "040075", "00000001", "GBP", 0, AccountsTestHost.NewKey(), 1);
        await _store.CreateCustomerAsync(customer, null, account, CancellationToken.None);
        using (var reopened = new PostgresAccountsStore(_database))
        {
            Assert.Equal(customer, await reopened.GetCustomerAsync(customer.CustomerId, CancellationToken.None));
        }
        using (var connection = new NpgsqlConnection(_database))
        {
            connection.Open();
            using var command = new NpgsqlCommand("UPDATE accounts.schema_version SET version = 42", connection);
            command.ExecuteNonQuery();
        }
        var error = Assert.Throws<SchemaTooNewException>(() => new PostgresAccountsStore(_database));
        Assert.Contains("newer than this build knows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrentCreations_SameEmail_ExactlyOneWins()
    {
        var email = AccountsTestHost.NewEmail();
        var attempts = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            var customer = new CustomerRecord(Guid.NewGuid().ToString(), "Racer", email, email.ToLowerInvariant(), 1);
            var account = new CurrentAccountRecord(Guid.NewGuid().ToString(), customer.CustomerId, "Current account", "040075",
                (10_000_000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), "GBP", 0, AccountsTestHost.NewKey(), 1);
            return _store.CreateCustomerAsync(customer, null, account, CancellationToken.None);
        })).ToArray();
        var outcomes = await Task.WhenAll(attempts);
        Assert.Single(outcomes, o => o == CreateCustomerOutcome.Created);
        Assert.All(outcomes.Where(o => o != CreateCustomerOutcome.Created), o => Assert.Equal(CreateCustomerOutcome.EmailTaken, o));
    }

    public void Dispose() => _store.Dispose();
}
