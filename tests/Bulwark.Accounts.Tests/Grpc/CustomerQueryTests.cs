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

    [Fact]
    public async Task FindCustomerByEmail_OtherCase_ReturnsTheCustomer()
    {
        var created = await Host.NewCustomerAsync(name: "Grace Hopper");

        var customer = await Host.Accounts.FindCustomerByEmailAsync(new FindCustomerByEmailRequest { Email = "  " + created.Customer.Email.ToUpperInvariant() });

        Assert.Equal(created.Customer, customer);
    }

    [Fact]
    public async Task FindCustomerByEmail_UnknownOrBad_NotFoundOrInvalidArgumentNamingEmail()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.FindCustomerByEmailAsync(new FindCustomerByEmailRequest { Email = AccountsTestHost.NewEmail() }).ResponseAsync);
        await RpcAssert.InvalidAsync("email", () => Host.Accounts.FindCustomerByEmailAsync(new FindCustomerByEmailRequest { Email = "not-an-email" }).ResponseAsync);
    }

    [Fact]
    public async Task ListCustomers_PagesOfTwo_EveryCustomerOnceInIdOrderUntilNoCursor()
    {
        var created = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 3; i++)
        {
            created.Add((await Host.NewCustomerAsync()).Customer.CustomerId);
        }

        var seen = new List<string>();
        var cursor = "";
        do
        {
            var page = await Host.Accounts.ListCustomersAsync(new ListCustomersRequest { Limit = 2, Cursor = cursor });
            Assert.InRange(page.Customers.Count, 1, 2);
            seen.AddRange(page.Customers.Select(c => c.CustomerId));
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0);

        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Superset(created, seen.ToHashSet());
    }

    [Theory]
    [InlineData(-1, "", "limit")]
    [InlineData(501, "", "limit")]
    [InlineData(10, "not-a-cursor", "cursor")]
    public async Task ListCustomers_BadLimitOrCursor_InvalidArgumentNamingIt(int limit, string cursor, string field)
    {
        await RpcAssert.InvalidAsync(field, () => Host.Accounts.ListCustomersAsync(new ListCustomersRequest { Limit = limit, Cursor = cursor }).ResponseAsync);
    }

    [Fact]
    public async Task SearchCustomers_ByNameAndByAccountNumber_FindsTheCustomerAndSaysWhenThereAreMore()
    {
        var tag = AccountsTestHost.NewKey()[..10];
        var grace = await Host.NewCustomerAsync(name: $"Grace Hopper {tag}");
        await Host.NewCustomerAsync(name: $"Grace Kelly {tag}");

        var byName = await Host.Accounts.SearchCustomersAsync(new SearchCustomersRequest { Name = $"hopper {tag}" });
        var byNumber = await Host.Accounts.SearchCustomersAsync(new SearchCustomersRequest { SortCode = grace.Account.SortCode, AccountNumber = grace.Account.AccountNumber });
        var narrow = await Host.Accounts.SearchCustomersAsync(new SearchCustomersRequest { Name = tag, Limit = 1 });

        Assert.Equal([grace.Customer], byName.Customers);
        Assert.False(byName.More);
        Assert.Equal([grace.Customer], byNumber.Customers);
        Assert.Single(narrow.Customers);
        Assert.True(narrow.More);
    }

    [Theory]
    [InlineData("", "", "", "", "", 0, "name")]
    [InlineData("a", "", "", "", "", 0, "name")]
    [InlineData("", "ab", "", "", "", 0, "email")]
    [InlineData("", "", "040075", "", "", 0, "account_number")]
    [InlineData("", "", "", "12345678", "", 0, "sort_code")]
    [InlineData("", "", "04-00-75", "12345678", "", 0, "sort_code")]
    [InlineData("", "", "", "", "42", 0, "card_last_four")]
    [InlineData("Ada", "", "", "", "", 101, "limit")]
    [InlineData("Ada", "", "", "", "", -1, "limit")]
    public async Task SearchCustomers_BadField_InvalidArgumentNamingIt(string name, string email, string sortCode, string accountNumber, string lastFour, int limit, string field)
    {
        await RpcAssert.InvalidAsync(field, () => Host.Accounts.SearchCustomersAsync(new SearchCustomersRequest
        {
            Name = name,
            Email = email,
            SortCode = sortCode,
            AccountNumber = accountNumber,
            CardLastFour = lastFour,
            Limit = limit,
        }).ResponseAsync);
    }
}
