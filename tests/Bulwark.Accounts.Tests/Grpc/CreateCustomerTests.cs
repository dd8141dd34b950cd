using Bulwark.Accounts.Protos;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Grpc;

public sealed class CreateCustomerTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    private static CreateCustomerRequest Valid() => new()
    {
        Name = "Ada Lovelace",
        Email = AccountsTestHost.NewEmail(),
        Password = "correct horse battery",
        Currency = "GBP",
        OverdraftLimit = 25_000,
    };

    [Fact]
    public async Task CreateCustomer_Valid_CreatesCustomerAccountAndLedgerAccount()
    {
        var request = Valid();

        var response = await Host.Accounts.CreateCustomerAsync(request);

        Assert.True(Guid.TryParse(response.Customer.CustomerId, out _));
        Assert.Equal("Ada Lovelace", response.Customer.Name);
        Assert.Equal(request.Email, response.Customer.Email);
        Assert.Equal(AccountsTestHost.Start.ToUnixTimeMilliseconds(), response.Customer.CreatedAtUnixMs);
        var account = response.Account;
        Assert.Equal(response.Customer.CustomerId, account.CustomerId);
        Assert.Equal("040075", account.SortCode);
        Assert.Matches("^[0-9]{8}$", account.AccountNumber);
        Assert.Equal("GBP", account.Currency);
        Assert.Equal(25_000, account.OverdraftLimit);
        Assert.Equal("Current account", account.Name);
        Assert.Matches("^[0-9a-f]{32}$", account.LedgerAccountId);
        var ledgerAccount = Host.FakeLedger.FindAccount(account.LedgerAccountId);
        Assert.NotNull(ledgerAccount);
        Assert.Equal(1u, ledgerAccount.Code);
        Assert.Equal((uint)AccountFlags.DebitsMustNotExceedCredits, ledgerAccount.Flags);
        Assert.Equal(25_000, ledgerAccount.OverdraftLimit);
        Assert.Equal("GBP", ledgerAccount.Currency);
    }

    [Fact]
    public async Task CreateCustomer_EmptyCurrency_DefaultsToGbp()
    {
        var request = Valid();
        request.Currency = "";

        var response = await Host.Accounts.CreateCustomerAsync(request);

        Assert.Equal("GBP", response.Account.Currency);
    }

    [Fact]
    public async Task CreateCustomer_OtherCurrency_OpensAccountInIt()
    {
        var request = Valid();
        request.Currency = "EUR";

        var response = await Host.Accounts.CreateCustomerAsync(request);

        Assert.Equal("EUR", response.Account.Currency);
        Assert.Equal("EUR", Host.FakeLedger.FindAccount(response.Account.LedgerAccountId)!.Currency);
    }

    [Fact]
    public async Task CreateCustomer_EmptyPassword_CreatesCustomerWhoCannotLogIn()
    {
        var request = Valid();
        request.Password = "";

        var response = await Host.Accounts.CreateCustomerAsync(request);
        var login = await Host.Accounts.AuthenticateAsync(new AuthenticateRequest { Email = request.Email, Password = "anything-at-all" });

        Assert.NotEmpty(response.Customer.CustomerId);
        Assert.False(login.Authenticated);
    }

    [Fact]
    public async Task CreateCustomer_ManyCustomers_GetDistinctAccountNumbersAndLedgerAccounts()
    {
        var created = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Host.NewCustomerAsync()));

        Assert.Equal(20, created.Select(c => c.Account.AccountNumber).Distinct().Count());
        Assert.Equal(20, created.Select(c => c.Account.LedgerAccountId).Distinct().Count());
    }

    [Fact]
    public async Task CreateCustomer_NameTrimmed_StoresTrimmedName()
    {
        var request = Valid();
        request.Name = "  Grace Hopper  ";

        var response = await Host.Accounts.CreateCustomerAsync(request);

        Assert.Equal("Grace Hopper", response.Customer.Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Name\u0007WithBell")]
    public async Task CreateCustomer_BadName_InvalidArgumentNamingName(string name)
    {
        var request = Valid();
        request.Name = name;

        await RpcAssert.InvalidAsync("name", () => Host.Accounts.CreateCustomerAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task CreateCustomer_NameTooLong_InvalidArgumentNamingName()
    {
        var request = Valid();
        request.Name = new string('a', AccountsLimits.NameLengthMax + 1);

        await RpcAssert.InvalidAsync("name", () => Host.Accounts.CreateCustomerAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task CreateCustomer_NameAtLimit_Accepted()
    {
        var request = Valid();
        request.Name = new string('a', AccountsLimits.NameLengthMax);

        var response = await Host.Accounts.CreateCustomerAsync(request);

        Assert.Equal(AccountsLimits.NameLengthMax, response.Customer.Name.Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("no-at-sign.example.com")]
    [InlineData("two@@example.com")]
    [InlineData("a@b@example.com")]
    [InlineData("@example.com")]
    [InlineData("name@")]
    [InlineData("name@localhost")]
    [InlineData("name@example..com")]
    [InlineData("name@.example.com")]
    [InlineData("with space@example.com")]
    [InlineData("<name@example.com>")]
    public async Task CreateCustomer_BadEmail_InvalidArgumentNamingEmail(string email)
    {
        var request = Valid();
        request.Email = email;

        await RpcAssert.InvalidAsync("email", () => Host.Accounts.CreateCustomerAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task CreateCustomer_EmailTooLong_InvalidArgumentNamingEmail()
    {
        var request = Valid();
        request.Email = "a@" + new string('b', AccountsLimits.EmailLengthMax) + ".com";

        await RpcAssert.InvalidAsync("email", () => Host.Accounts.CreateCustomerAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task CreateCustomer_EmailTakenInOtherCase_AlreadyExists()
    {
        var first = Valid();
        await Host.Accounts.CreateCustomerAsync(first);
        var second = Valid();
        second.Email = "  " + first.Email.ToUpperInvariant() + " ";

        var error = await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Accounts.CreateCustomerAsync(second).ResponseAsync);

        Assert.Contains("email", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCustomer_SameEmailConcurrently_ExactlyOneSucceeds()
    {
        var email = AccountsTestHost.NewEmail();
        var attempts = Enumerable.Range(0, 8).Select(async _ =>
        {
            var request = Valid();
            request.Email = email;
            try
            {
                await Host.Accounts.CreateCustomerAsync(request);
                return StatusCode.OK;
            }
            catch (RpcException error)
            {
                return error.StatusCode;
            }
        });

        var outcomes = await Task.WhenAll(attempts);

        Assert.Single(outcomes, outcome => outcome == StatusCode.OK);
        Assert.All(outcomes.Where(outcome => outcome != StatusCode.OK), outcome => Assert.Equal(StatusCode.AlreadyExists, outcome));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(AccountsLimits.PasswordLengthMin - 1)]
    [InlineData(AccountsLimits.PasswordLengthMax + 1)]
    public async Task CreateCustomer_PasswordLengthOutOfRange_InvalidArgumentNamingPassword(int length)
    {
        var request = Valid();
        request.Password = new string('p', length);

        await RpcAssert.InvalidAsync("password", () => Host.Accounts.CreateCustomerAsync(request).ResponseAsync);
    }

    [Theory]
    [InlineData("gbp")]
    [InlineData("GB")]
    [InlineData("GBPX")]
    [InlineData("XYZ")]
    [InlineData("G8P")]
    public async Task CreateCustomer_BadCurrency_InvalidArgumentNamingCurrency(string currency)
    {
        var request = Valid();
        request.Currency = currency;

        await RpcAssert.InvalidAsync("currency", () => Host.Accounts.CreateCustomerAsync(request).ResponseAsync);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(AccountsLimits.OverdraftLimitMax + 1)]
    public async Task CreateCustomer_OverdraftOutOfRange_InvalidArgumentNamingOverdraftLimit(long overdraft)
    {
        var request = Valid();
        request.OverdraftLimit = overdraft;

        await RpcAssert.InvalidAsync("overdraft_limit", () => Host.Accounts.CreateCustomerAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task CreateCustomer_LedgerDown_UnavailableAndRetryWithSameEmailSucceeds()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var request = Valid();
        host.FakeLedger.Unavailable = true;

        await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Accounts.CreateCustomerAsync(request).ResponseAsync);
        host.FakeLedger.Unavailable = false;
        var response = await host.Accounts.CreateCustomerAsync(request);

        Assert.Equal(request.Email, response.Customer.Email);
    }
}
