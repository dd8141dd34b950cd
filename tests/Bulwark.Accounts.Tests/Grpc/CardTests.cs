using System.Text;
using Bulwark.Accounts.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Grpc;

public sealed class CardTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    private static int NowYear => AccountsTestHost.Start.Year;

    private static int NowMonth => AccountsTestHost.Start.Month;

    private static IssueCardRequest Issue(CreateCustomerResponse customer, string? pan = null) => new()
    {
        CustomerId = customer.Customer.CustomerId,
        AccountId = customer.Account.AccountId,
        Pan = pan ?? TestPans.New(),
        ExpiryMonth = 12,
        ExpiryYear = NowYear + 3,
    };

    [Fact]
    public async Task IssueCard_Valid_ReturnsCardWithLastFourAndAccountDetails()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);

        var card = await Host.Accounts.IssueCardAsync(request);

        Assert.True(Guid.TryParse(card.CardId, out _));
        Assert.Equal(customer.Customer.CustomerId, card.CustomerId);
        Assert.Equal(customer.Account.AccountId, card.AccountId);
        Assert.Equal(request.Pan[^4..], card.LastFour);
        Assert.Equal(12, card.ExpiryMonth);
        Assert.Equal(NowYear + 3, card.ExpiryYear);
        Assert.False(card.Frozen);
        Assert.Equal(customer.Account.LedgerAccountId, card.LedgerAccountId);
        Assert.Equal("GBP", card.Currency);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(16)]
    [InlineData(19)]
    public async Task IssueCard_PanLengthsInRange_Accepted(int length)
    {
        var customer = await Host.NewCustomerAsync();

        var card = await Host.Accounts.IssueCardAsync(Issue(customer, TestPans.New(length)));

        Assert.Equal(4, card.LastFour.Length);
    }

    [Fact]
    public async Task IssueCard_Valid_DatabaseHoldsNoPan()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var customer = await host.NewCustomerAsync();
        var pans = Enumerable.Range(0, 5).Select(_ => TestPans.New()).ToList();

        foreach (var pan in pans)
        {
            await host.Accounts.IssueCardAsync(Issue(customer, pan));
            await host.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan });
        }

        Assert.All(pans, pan =>
        {
            Assert.False(DatabaseFiles.Contain(host.DatabasePath, Encoding.ASCII.GetBytes(pan)), "PAN found as ASCII");
            Assert.False(DatabaseFiles.Contain(host.DatabasePath, Encoding.Unicode.GetBytes(pan)), "PAN found as UTF-16");
            Assert.False(DatabaseFiles.Contain(host.DatabasePath, Encoding.ASCII.GetBytes(pan[..12])), "first twelve digits found");
        });
        // The search itself works: a value that is stored as text (the customer id) is found.
        Assert.True(DatabaseFiles.Contain(host.DatabasePath, Encoding.ASCII.GetBytes(customer.Customer.CustomerId)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("411111111111")]
    [InlineData("41111111111111111111")]
    [InlineData("4111 1111 1111 1111")]
    [InlineData("4111-1111-1111-1111")]
    [InlineData("411111111111111a")]
    [InlineData("4111111111111112")]
    public async Task IssueCard_BadPan_InvalidArgumentNamingPan(string pan)
    {
        var customer = await Host.NewCustomerAsync();

        var error = await RpcAssert.InvalidAsync("pan", () => Host.Accounts.IssueCardAsync(Issue(customer, pan)).ResponseAsync);

        Assert.True(pan.Length < 8 || !error.Status.Detail.Contains(pan, StringComparison.Ordinal), "the PAN must not be echoed back");
    }

    [Fact]
    public async Task IssueCard_LuhnFailure_InvalidArgumentNamingPan()
    {
        var customer = await Host.NewCustomerAsync();

        await RpcAssert.InvalidAsync("pan", () => Host.Accounts.IssueCardAsync(Issue(customer, TestPans.WithWrongCheckDigit(TestPans.New()))).ResponseAsync);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(13)]
    [InlineData(-1)]
    public async Task IssueCard_BadExpiryMonth_InvalidArgumentNamingExpiryMonth(int month)
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);
        request.ExpiryMonth = month;

        await RpcAssert.InvalidAsync("expiry_month", () => Host.Accounts.IssueCardAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task IssueCard_ExpiredLastYear_InvalidArgumentNamingExpiryYear()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);
        request.ExpiryYear = NowYear - 1;

        await RpcAssert.InvalidAsync("expiry_year", () => Host.Accounts.IssueCardAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task IssueCard_ExpiredLastMonth_InvalidArgumentNamingExpiryMonth()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);
        request.ExpiryYear = NowYear;
        request.ExpiryMonth = NowMonth - 1;

        await RpcAssert.InvalidAsync("expiry_month", () => Host.Accounts.IssueCardAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task IssueCard_ExpiresThisMonth_Accepted()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);
        request.ExpiryYear = NowYear;
        request.ExpiryMonth = NowMonth;

        var card = await Host.Accounts.IssueCardAsync(request);

        Assert.Equal(NowMonth, card.ExpiryMonth);
    }

    [Fact]
    public async Task IssueCard_ExpiryTooFarAhead_InvalidArgumentNamingExpiryYear()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);
        request.ExpiryYear = NowYear + AccountsLimits.ExpiryYearsAheadMax + 1;

        await RpcAssert.InvalidAsync("expiry_year", () => Host.Accounts.IssueCardAsync(request).ResponseAsync);
    }

    [Theory]
    [InlineData("customer_id")]
    [InlineData("account_id")]
    public async Task IssueCard_BadId_InvalidArgumentNamingIt(string field)
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);
        if (field == "customer_id")
        {
            request.CustomerId = "";
        }
        else
        {
            request.AccountId = "nope";
        }

        await RpcAssert.InvalidAsync(field, () => Host.Accounts.IssueCardAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task IssueCard_SomeoneElsesAccount_PermissionDenied()
    {
        var owner = await Host.NewCustomerAsync();
        var intruder = await Host.NewCustomerAsync();
        var request = Issue(owner);
        request.CustomerId = intruder.Customer.CustomerId;

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.IssueCardAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task IssueCard_UnknownAccount_NotFound()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Issue(customer);
        request.AccountId = Guid.NewGuid().ToString();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.IssueCardAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task IssueCard_SamePanTwice_AlreadyExists()
    {
        var customer = await Host.NewCustomerAsync();
        var pan = TestPans.New();
        await Host.Accounts.IssueCardAsync(Issue(customer, pan));

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Accounts.IssueCardAsync(Issue(customer, pan)).ResponseAsync);
    }

    [Fact]
    public async Task IssueCard_BeyondCardsPerCustomer_FailedPrecondition()
    {
        var customer = await Host.NewCustomerAsync();
        for (var i = 0; i < AccountsLimits.CardsPerCustomerMax; i++)
        {
            await Host.Accounts.IssueCardAsync(Issue(customer));
        }

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.IssueCardAsync(Issue(customer)).ResponseAsync);
    }

    [Fact]
    public async Task ListCards_CustomerWithCards_ReturnsOnlyTheirs()
    {
        var customer = await Host.NewCustomerAsync();
        var other = await Host.NewCustomerAsync();
        var first = await Host.Accounts.IssueCardAsync(Issue(customer));
        var second = await Host.Accounts.IssueCardAsync(Issue(customer));
        await Host.Accounts.IssueCardAsync(Issue(other));

        var response = await Host.Accounts.ListCardsAsync(new ListCardsRequest { CustomerId = customer.Customer.CustomerId });

        Assert.Equal([first, second], response.Cards.OrderBy(c => c.CardId == first.CardId ? 0 : 1));
    }

    [Fact]
    public async Task ListCards_UnknownCustomer_NotFound()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.ListCardsAsync(new ListCardsRequest { CustomerId = Guid.NewGuid().ToString() }).ResponseAsync);
    }

    [Fact]
    public async Task ListCards_BadId_InvalidArgumentNamingCustomerId()
    {
        await RpcAssert.InvalidAsync("customer_id", () => Host.Accounts.ListCardsAsync(new ListCardsRequest { CustomerId = "" }).ResponseAsync);
    }

    [Fact]
    public async Task SetCardFrozen_Owner_FreezesAndUnfreezes()
    {
        var customer = await Host.NewCustomerAsync();
        var pan = TestPans.New();
        var card = await Host.Accounts.IssueCardAsync(Issue(customer, pan));

        var frozen = await Host.Accounts.SetCardFrozenAsync(new SetCardFrozenRequest { CustomerId = customer.Customer.CustomerId, CardId = card.CardId, Frozen = true });
        var found = await Host.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan });
        var thawed = await Host.Accounts.SetCardFrozenAsync(new SetCardFrozenRequest { CustomerId = customer.Customer.CustomerId, CardId = card.CardId, Frozen = false });

        Assert.True(frozen.Frozen);
        Assert.True(found.Frozen);
        Assert.False(thawed.Frozen);
    }

    [Fact]
    public async Task SetCardFrozen_SomeoneElsesCard_PermissionDeniedAndUnchanged()
    {
        var owner = await Host.NewCustomerAsync();
        var intruder = await Host.NewCustomerAsync();
        var pan = TestPans.New();
        var card = await Host.Accounts.IssueCardAsync(Issue(owner, pan));

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.SetCardFrozenAsync(
            new SetCardFrozenRequest { CustomerId = intruder.Customer.CustomerId, CardId = card.CardId, Frozen = true }).ResponseAsync);

        Assert.False((await Host.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan })).Frozen);
    }

    [Fact]
    public async Task SetCardFrozen_UnknownCard_NotFound()
    {
        var customer = await Host.NewCustomerAsync();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.SetCardFrozenAsync(
            new SetCardFrozenRequest { CustomerId = customer.Customer.CustomerId, CardId = Guid.NewGuid().ToString(), Frozen = true }).ResponseAsync);
    }

    [Theory]
    [InlineData("customer_id", "", "00000000-0000-0000-0000-000000000001")]
    [InlineData("card_id", "00000000-0000-0000-0000-000000000001", "card-1")]
    public async Task SetCardFrozen_BadId_InvalidArgumentNamingIt(string field, string customerId, string cardId)
    {
        await RpcAssert.InvalidAsync(field, () => Host.Accounts.SetCardFrozenAsync(new SetCardFrozenRequest { CustomerId = customerId, CardId = cardId }).ResponseAsync);
    }

    [Fact]
    public async Task FindCardByPan_IssuedCard_FindsIt()
    {
        var customer = await Host.NewCustomerAsync();
        var pan = TestPans.New();
        var card = await Host.Accounts.IssueCardAsync(Issue(customer, pan));

        var found = await Host.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan });

        Assert.Equal(card, found);
    }

    [Fact]
    public async Task FindCardByPan_UnknownPan_NotFound()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = TestPans.New() }).ResponseAsync);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1234")]
    [InlineData("4111111111111112")]
    public async Task FindCardByPan_BadPan_InvalidArgumentNamingPan(string pan)
    {
        await RpcAssert.InvalidAsync("pan", () => Host.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan }).ResponseAsync);
    }
}
