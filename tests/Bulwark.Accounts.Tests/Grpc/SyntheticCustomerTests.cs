using Bulwark.Accounts.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Grpc;

/// <summary>The coherence checker's synthetic customers: they log in, and no customer list, lookup or payment finds them.</summary>
public sealed class SyntheticCustomerTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private const string Password = "a checker's own password, long and random";

    private AccountsTestHost Host => fixture.Host;

    private static string NewSyntheticLedgerAccount() => "42756c7761726bc0" + Guid.NewGuid().ToString("N")[..16];

    private static string NewKey() => Guid.NewGuid().ToString("N");

    private Task<CreateCustomerResponse> EnsureAsync(string key, string ledgerAccountId, string password = Password) =>
        Host.Accounts.EnsureSyntheticCustomerAsync(new EnsureSyntheticCustomerRequest { Key = key, LedgerAccountId = ledgerAccountId, Password = password }).ResponseAsync;

    [Fact]
    public async Task EnsureSyntheticCustomer_New_LogsInWithThePasswordAndHoldsTheGivenLedgerAccount()
    {
        var key = NewKey();
        var ledgerAccountId = NewSyntheticLedgerAccount();

        var created = await EnsureAsync(key, ledgerAccountId);

        Assert.Equal($"coherence-{key}@synthetic.bulwark.invalid", created.Customer.Email);
        Assert.True(created.Customer.Synthetic);
        // Found by id (the edge's /me asks so), marked as what it is.
        Assert.True((await Host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = created.Customer.CustomerId })).Synthetic);
        Assert.Equal(ledgerAccountId, created.Account.LedgerAccountId);
        var login = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = created.Customer.Email, Password = Password });
        Assert.True(login.Authenticated);
        Assert.Equal(created.Customer.CustomerId, login.CustomerId);
        var accounts = await Host.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = created.Customer.CustomerId });
        Assert.Equal(created.Account, Assert.Single(accounts.Accounts));
        // The accounts service opened no ledger account: the checker made it.
        Assert.Null(Host.FakeLedger.FindAccount(ledgerAccountId));
    }

    [Fact]
    public async Task EnsureSyntheticCustomer_Again_SameCustomerAndOnlyTheNewPasswordLogsIn()
    {
        var key = NewKey();
        var ledgerAccountId = NewSyntheticLedgerAccount();
        var first = await EnsureAsync(key, ledgerAccountId, "the first password, long and random");

        var second = await EnsureAsync(key, ledgerAccountId, "the second password, long and random");

        Assert.Equal(first, second);
        Assert.False((await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = first.Customer.Email, Password = "the first password, long and random" })).Authenticated);
        Assert.True((await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = first.Customer.Email, Password = "the second password, long and random" })).Authenticated);
    }

    [Fact]
    public async Task EnsureSyntheticCustomer_SameKeyOtherLedgerAccount_FailedPrecondition()
    {
        var key = NewKey();
        await EnsureAsync(key, NewSyntheticLedgerAccount());

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => EnsureAsync(key, NewSyntheticLedgerAccount()));
    }

    [Fact]
    public async Task EnsureSyntheticCustomer_ACustomersLedgerAccount_RefusedNamingTheField()
    {
        var customer = await Host.NewCustomerAsync();

        await RpcAssert.InvalidAsync("ledger_account_id", () => EnsureAsync(NewKey(), customer.Account.LedgerAccountId));
    }

    [Theory]
    [InlineData("", "key")]
    [InlineData("Upper", "key")]
    [InlineData("has space", "key")]
    [InlineData("0123456789012345678901234567890123456789x", "key")]
    public async Task EnsureSyntheticCustomer_BadKey_InvalidArgumentNamingIt(string key, string field)
    {
        await RpcAssert.InvalidAsync(field, () => EnsureAsync(key, NewSyntheticLedgerAccount()));
    }

    [Fact]
    public async Task EnsureSyntheticCustomer_ShortPassword_InvalidArgumentNamingIt()
    {
        await RpcAssert.InvalidAsync("password", () => EnsureAsync(NewKey(), NewSyntheticLedgerAccount(), "short"));
    }

    [Fact]
    public async Task SyntheticCustomer_NotListedNotFoundByEmailAndNoPayee()
    {
        var synthetic = await EnsureAsync(NewKey(), NewSyntheticLedgerAccount());
        var customer = await Host.NewCustomerAsync();
        await Host.FundAsync(customer.Account.LedgerAccountId, 1_000);

        var listed = new List<Customer>();
        var cursor = "";
        do
        {
            var page = await Host.Accounts.ListCustomersAsync(new ListCustomersRequest { Limit = 500, Cursor = cursor });
            listed.AddRange(page.Customers);
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0);

        Assert.Contains(listed, listedCustomer => listedCustomer.CustomerId == customer.Customer.CustomerId);
        Assert.DoesNotContain(listed, listedCustomer => listedCustomer.CustomerId == synthetic.Customer.CustomerId);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.FindCustomerByEmailAsync(new FindCustomerByEmailRequest { Email = synthetic.Customer.Email }).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.FindAccountByNumberAsync(new FindAccountByNumberRequest
        {
            SortCode = synthetic.Account.SortCode,
            AccountNumber = synthetic.Account.AccountNumber,
        }).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.PayAccountAsync(new PayAccountRequest
        {
            CustomerId = customer.Customer.CustomerId,
            FromAccountId = customer.Account.AccountId,
            ToSortCode = synthetic.Account.SortCode,
            ToAccountNumber = synthetic.Account.AccountNumber,
            Amount = 100,
            Currency = "GBP",
            IdempotencyKey = AccountsTestHost.NewKey(),
        }).ResponseAsync);
        Assert.Equal(1_000, Host.Balance(customer.Account.LedgerAccountId));
    }
}
