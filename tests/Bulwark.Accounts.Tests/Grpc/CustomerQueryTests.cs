using Bulwark.Accounts.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Grpc;

public sealed class CustomerQueryTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    [Fact]
    public async Task GetCustomer_Existing_ReturnsIt()
    {
        var created = await Host.NewCustomerAsync(name: "Alan Turing");

        var customer = await Host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = created.Customer.CustomerId });

        Assert.Equal(created.Customer, customer);
    }

    [Fact]
    public async Task GetCustomer_IdInUpperCase_FindsSameCustomer()
    {
        var created = await Host.NewCustomerAsync();

        var customer = await Host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = created.Customer.CustomerId.ToUpperInvariant() });

        Assert.Equal(created.Customer.CustomerId, customer.CustomerId);
    }

    [Fact]
    public async Task GetCustomer_Unknown_NotFound()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = Guid.NewGuid().ToString() }).ResponseAsync);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-uuid")]
    [InlineData("3f2504e04f8911d39a0c0305e82c3301")]
    [InlineData("{3f2504e0-4f89-11d3-9a0c-0305e82c3301}")]
    public async Task GetCustomer_BadId_InvalidArgumentNamingCustomerId(string id)
    {
        await RpcAssert.InvalidAsync("customer_id", () => Host.Accounts.GetCustomerAsync(new GetCustomerRequest { CustomerId = id }).ResponseAsync);
    }

    [Fact]
    public async Task ListAccounts_CustomerWithPot_ReturnsCurrentAccountAndPot()
    {
        var created = await Host.NewCustomerAsync();
        var pot = await Host.Accounts.CreatePotAsync(new CreatePotRequest { CustomerId = created.Customer.CustomerId, AccountId = created.Account.AccountId, Name = "Holiday" });

        var response = await Host.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = created.Customer.CustomerId });

        Assert.Equal(created.Account, Assert.Single(response.Accounts));
        Assert.Equal(pot, Assert.Single(response.Pots));
    }

    [Fact]
    public async Task ListAccounts_UnknownCustomer_NotFound()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = Guid.NewGuid().ToString() }).ResponseAsync);
    }

    [Fact]
    public async Task ListAccounts_BadId_InvalidArgumentNamingCustomerId()
    {
        await RpcAssert.InvalidAsync("customer_id", () => Host.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = "x" }).ResponseAsync);
    }

    [Fact]
    public async Task FindAccountByNumber_Existing_ReturnsSummaryWithHolderName()
    {
        var created = await Host.NewCustomerAsync(name: "Katherine Johnson");

        var summary = await Host.Accounts.FindAccountByNumberAsync(new FindAccountByNumberRequest
        {
            SortCode = created.Account.SortCode,
            AccountNumber = created.Account.AccountNumber,
        });

        Assert.Equal(created.Account.AccountId, summary.AccountId);
        Assert.Equal("Katherine Johnson", summary.HolderName);
        Assert.Equal(created.Account.SortCode, summary.SortCode);
        Assert.Equal(created.Account.AccountNumber, summary.AccountNumber);
        Assert.Equal("GBP", summary.Currency);
    }

    [Fact]
    public async Task FindAccountByNumber_Unknown_NotFound()
    {
        var created = await Host.NewCustomerAsync();
        var otherSortCode = created.Account.SortCode == "000000" ? "111111" : "000000";

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.FindAccountByNumberAsync(new FindAccountByNumberRequest
        {
            SortCode = otherSortCode,
            AccountNumber = created.Account.AccountNumber,
        }).ResponseAsync);
    }

    [Theory]
    [InlineData("")]
    [InlineData("04-00-75")]
    [InlineData("04007")]
    [InlineData("0400755")]
    [InlineData("04007a")]
    public async Task FindAccountByNumber_BadSortCode_InvalidArgumentNamingSortCode(string sortCode)
    {
        await RpcAssert.InvalidAsync("sort_code", () => Host.Accounts.FindAccountByNumberAsync(new FindAccountByNumberRequest { SortCode = sortCode, AccountNumber = "12345678" }).ResponseAsync);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1234567")]
    [InlineData("123456789")]
    [InlineData("1234 678")]
    [InlineData("１２３４５６７８")]
    public async Task FindAccountByNumber_BadAccountNumber_InvalidArgumentNamingAccountNumber(string accountNumber)
    {
        await RpcAssert.InvalidAsync("account_number", () => Host.Accounts.FindAccountByNumberAsync(new FindAccountByNumberRequest { SortCode = "040075", AccountNumber = accountNumber }).ResponseAsync);
    }
}
