using Bulwark.Accounts.Protos;
using Bulwark.Feed.Protos;
using Bulwark.Iso8583;
using Microsoft.Extensions.Time.Testing;

namespace Bulwark.Cards.Tests;

/// <summary>0100 → 0110 against the real ledger and accounts, over TCP.</summary>
public sealed class AuthorisationTests : IAsyncLifetime
{
    private CardsBank _bank = null!;

    public async Task InitializeAsync() => _bank = await CardsBank.StartAsync();

    public async Task DisposeAsync() => await _bank.DisposeAsync();

    [Fact]
    public async Task Authorise_FundedCard_ApprovedWithHoldInLedgerAndPendingInFeed()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 1_234, stan, _bank.Expiry));

        Assert.Equal(MessageTypeIndicator.AuthorizationResponse, response.Mti);
        Assert.Equal("00", response.GetResponseCode());
        Assert.Equal(6, response.GetString(Iso8583Fields.AuthorizationIdResponse).Length);
        Assert.Equal(stan, response.GetSystemsTraceAuditNumber());
        Assert.Equal(Messages.Rrn(stan), response.GetRetrievalReferenceNumber());

        var account = await _bank.CustomerAccountAsync();
        Assert.Equal(1_234, account.DebitsPending);
        var hold = Assert.Single(await _bank.CardTransfersAsync());
        Assert.Equal("Dishoom", hold.Metadata["merchant_name"]);
        Assert.Equal("eating_out", hold.Metadata["category"]);
        Assert.Equal("5812", hold.Metadata["mcc"]);

        var item = Assert.Single((await _bank.FeedAsync()).Items, item => item.MerchantName == "Dishoom");
        Assert.Equal(FeedItemState.Pending, item.State);
        Assert.Equal(-1_234, item.Amount);
        Assert.Equal("eating_out", item.Category);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Authorise_MoreThanAvailable_InsufficientFunds51AndNoHold()
    {
        await using var scheme = await _bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, CardsBank.OpeningBalance + 1, Messages.NextStan(), _bank.Expiry));
        Assert.Equal("51", response.GetResponseCode());
        Assert.False(response.Has(Iso8583Fields.AuthorizationIdResponse));
        Assert.Empty(await _bank.CardTransfersAsync());
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Authorise_UnknownCard_InvalidCardNumber14()
    {
        await using var scheme = await _bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(CardsBank.LuhnPan("411111111111111"), 100, Messages.NextStan(), _bank.Expiry));
        Assert.Equal("14", response.GetResponseCode());
    }

    [Fact]
    public async Task Authorise_FrozenCard_RestrictedCard62()
    {
        await _bank.FreezeAsync(_bank.CardId);
        await using var scheme = await _bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), _bank.Expiry));
        Assert.Equal("62", response.GetResponseCode());
        Assert.Empty(await _bank.CardTransfersAsync());
    }

    [Fact]
    public async Task Authorise_CardOfABlockedAccount_RestrictedCard62_NothingHeld()
    {
        await _bank.Accounts.SetAccountBlockedAsync(new SetAccountBlockedRequest { CustomerId = _bank.CustomerId, AccountId = _bank.AccountId, Blocked = true, Reason = "suspected fraud" });
        await using var scheme = await _bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), _bank.Expiry));
        Assert.Equal("62", response.GetResponseCode());
        Assert.Empty(await _bank.CardTransfersAsync());
    }

    [Fact]
    public async Task Authorise_ExpiryOnMessageDiffersFromCard_ExpiredCard54()
    {
        await using var scheme = await _bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), "2001"));
        Assert.Equal("54", response.GetResponseCode());
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(100_000_001L)]
    public async Task Authorise_AmountZeroOrAbsurd_InvalidAmount13(long amount)
    {
        await using var scheme = await _bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, amount, Messages.NextStan(), _bank.Expiry));
        Assert.Equal("13", response.GetResponseCode());
        Assert.Empty(await _bank.CardTransfersAsync());
    }

    [Fact]
    public async Task Authorise_WrongCurrency_InvalidTransaction12()
    {
        await using var scheme = await _bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 100, Messages.NextStan(), _bank.Expiry, currency: "978"));
        Assert.Equal("12", response.GetResponseCode());
        Assert.Empty(await _bank.CardTransfersAsync());
    }

    [Fact]
    public async Task Authorise_DuplicateStanAndRrn_OriginalDecisionAnsweredAndOneHold()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        var first = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 700, stan, _bank.Expiry));
        var second = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, 700, stan, _bank.Expiry));
        Assert.Equal("00", first.GetResponseCode());
        Assert.Equal("00", second.GetResponseCode());
        Assert.Equal(first.GetString(Iso8583Fields.AuthorizationIdResponse), second.GetString(Iso8583Fields.AuthorizationIdResponse));
        Assert.Single(await _bank.CardTransfersAsync());
        Assert.Equal(700, (await _bank.CustomerAccountAsync()).DebitsPending);
        await _bank.AssertMoneyConservedAsync();
    }

    [Fact]
    public async Task Authorise_DuplicateOfDecline_SameDeclineEvenAfterFundsArrive()
    {
        await using var scheme = await _bank.ConnectAsync();
        var stan = Messages.NextStan();
        var first = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, CardsBank.OpeningBalance * 2, stan, _bank.Expiry));
        var second = await scheme.RoundTripAsync(Messages.Authorisation(_bank.Pan, CardsBank.OpeningBalance * 2, stan, _bank.Expiry));
        Assert.Equal("51", first.GetResponseCode());
        Assert.Equal("51", second.GetResponseCode());
    }
}

/// <summary>Card expiry is judged by the processor's clock: a card past its month is declined.</summary>
public sealed class ExpiredCardTests
{
    [Fact]
    public async Task Authorise_CardPastItsExpiryMonth_ExpiredCard54()
    {
        var later = new FakeTimeProvider(DateTimeOffset.UtcNow.AddYears(5));
        await using var bank = await CardsBank.StartAsync(options => new CardsOptions
        {
            JournalPath = options.JournalPath,
            SettlementLedgerAccountId = options.SettlementLedgerAccountId,
            Time = later,
        });
        await using var scheme = await bank.ConnectAsync();
        var response = await scheme.RoundTripAsync(Messages.Authorisation(bank.Pan, 100, Messages.NextStan(), bank.Expiry));
        Assert.Equal("54", response.GetResponseCode());
        Assert.Empty(await bank.CardTransfersAsync());
    }
}
