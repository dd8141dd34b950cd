using Bulwark.Feed.Protos;
using Grpc.Core;

namespace Bulwark.Feed.Tests.Grpc;

public sealed class SpentTodayTests
{
    private static async Task<long> SpentAsync(FeedTestHost host, string account) =>
        (await host.Feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = account })).Amount;

    [Fact]
    public async Task SpentToday_MixOfTransfers_CountsCardPaymentsAtSettledAmountAndPaymentsOnly()
    {
        await using var host = await FeedTestHost.StartAsync();
        var account = await host.FundedAccountAsync(100_000);
        var pot = await host.NewAccountAsync(code: 2);
        var friend = await host.NewAccountAsync();
        // Counted: a pending card payment, a card payment settled for less, a payment to someone else.
        await host.SubmitAsync(host.CardHold(account, 1_000));
        var settled = host.CardHold(account, 3_000);
        await host.SubmitAsync(settled);
        await host.SubmitAsync(FeedTestHost.Post(settled, 2_400));
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 500, code: 3, ("category", "transfers")));
        // Not counted: a pot move, a voided hold, an expired hold, money coming in.
        await host.SubmitAsync(FeedTestHost.Payment(account, pot, 20_000, code: 2, ("category", "pot")));
        var voided = host.CardHold(account, 700);
        await host.SubmitAsync(voided);
        await host.SubmitAsync(FeedTestHost.Void(voided));
        await host.SubmitAsync(host.CardHold(account, 800, timeoutSeconds: 60));
        await host.SubmitAsync(FeedTestHost.Payment(friend, account, 250, code: 3));
        host.Time.Advance(TimeSpan.FromMinutes(2));

        var response = await host.Feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = account });

        Assert.Equal(1_000 + 2_400 + 500, response.Amount);
        Assert.Equal("GBP", response.Currency);
    }

    [Fact]
    public async Task SpentToday_MovesOutOfPot_NotSpending()
    {
        await using var host = await FeedTestHost.StartAsync();
        var account = await host.FundedAccountAsync(10_000);
        var pot = await host.NewAccountAsync(code: 2);
        await host.SubmitAsync(FeedTestHost.Payment(account, pot, 5_000, code: 2));
        await host.SubmitAsync(FeedTestHost.Payment(pot, account, 5_000, code: 2));

        Assert.Equal(0, await SpentAsync(host, account));
        Assert.Equal(0, await SpentAsync(host, pot));
    }

    [Fact]
    public async Task SpentToday_YesterdaysPayments_Excluded()
    {
        // 22:00 UTC in June is 23:00 in London (BST): the customer's midnight is an hour later.
        await using var host = await FeedTestHost.StartAsync(new DateTimeOffset(2030, 6, 14, 22, 0, 0, TimeSpan.Zero));
        var account = await host.FundedAccountAsync(100_000);
        var friend = await host.NewAccountAsync();
        await host.SubmitAsync(host.CardHold(account, 4_000));
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 3_000, code: 3));
        host.Time.Advance(TimeSpan.FromMinutes(59) + TimeSpan.FromSeconds(59));
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 1, code: 3));

        host.Time.Advance(TimeSpan.FromSeconds(1));
        var atMidnight = await SpentAsync(host, account);
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 150, code: 3));
        host.Time.Advance(TimeSpan.FromMinutes(30));
        var halfPast = await SpentAsync(host, account);

        Assert.Equal(0, atMidnight);
        Assert.Equal(150, halfPast);
    }

    [Fact]
    public async Task SpentToday_HoldFromYesterdayPostedToday_CountsOnTheDayOfThePurchase()
    {
        // 22:00 in London; three hours later it is 01:00 the next day there.
        await using var host = await FeedTestHost.StartAsync(new DateTimeOffset(2030, 6, 14, 21, 0, 0, TimeSpan.Zero));
        var account = await host.FundedAccountAsync(100_000);
        var hold = host.CardHold(account, 2_000);
        await host.SubmitAsync(hold);
        var yesterday = await SpentAsync(host, account);
        host.Time.Advance(TimeSpan.FromHours(3));

        await host.SubmitAsync(FeedTestHost.Post(hold, 1_800));

        Assert.Equal(2_000, yesterday);
        Assert.Equal(0, await SpentAsync(host, account));
    }

    [Fact]
    public async Task SpentToday_SummerAfterLondonMidnightBeforeUtcMidnight_CountsFromLondonMidnight()
    {
        // 23:30 on 14 June in London (22:30 UTC).
        await using var host = await FeedTestHost.StartAsync(new DateTimeOffset(2030, 6, 14, 22, 30, 0, TimeSpan.Zero));
        var account = await host.FundedAccountAsync(100_000);
        var friend = await host.NewAccountAsync();
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 700, code: 3));
        // 00:30 on 15 June in London, still 14 June in UTC (23:30).
        host.Time.Advance(TimeSpan.FromHours(1));
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 150, code: 3));

        Assert.Equal(150, await SpentAsync(host, account));
    }

    [Fact]
    public async Task SpentToday_WinterLondonIsUtc_CountsFromMidnight()
    {
        // 23:30 on 14 January in London, which is UTC in winter (GMT).
        await using var host = await FeedTestHost.StartAsync(new DateTimeOffset(2030, 1, 14, 23, 30, 0, TimeSpan.Zero));
        var account = await host.FundedAccountAsync(100_000);
        var friend = await host.NewAccountAsync();
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 700, code: 3));
        var lateEvening = await SpentAsync(host, account);
        host.Time.Advance(TimeSpan.FromHours(1));
        await host.SubmitAsync(FeedTestHost.Payment(account, friend, 150, code: 3));

        Assert.Equal(700, lateEvening);
        Assert.Equal(150, await SpentAsync(host, account));
    }

    [Fact]
    public void FeedOptions_UnknownCustomerTimeZone_FailsAtStart()
    {
        var options = new FeedOptions { CustomerTimeZoneId = "Europe/Atlantis" };

        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("Europe/Atlantis", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SpentToday_MoreTransfersThanOneLedgerPage_AllCounted()
    {
        await using var host = await FeedTestHost.StartAsync();
        var account = await host.FundedAccountAsync(1_000_000);
        const int payments = (FeedLimits.SpentTodayLedgerPageSize * 2) + 37;
        for (var i = 0; i < payments; i++)
        {
            await host.SubmitAsync(host.CardHold(account, 10));
        }

        Assert.Equal(payments * 10, await SpentAsync(host, account));
    }

    [Fact]
    public async Task SpentToday_NothingSpent_ZeroInAccountCurrency()
    {
        await using var host = await FeedTestHost.StartAsync();
        var account = await host.NewAccountAsync(currency: "EUR");

        var response = await host.Feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = account });

        Assert.Equal(0, response.Amount);
        Assert.Equal("EUR", response.Currency);
    }

    [Fact]
    public async Task SpentToday_UnknownAccount_NotFound()
    {
        await using var host = await FeedTestHost.StartAsync();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => host.Feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = FeedTestHost.NewId() }).ResponseAsync);
    }

    [Theory]
    [InlineData("")]
    [InlineData("xyz")]
    [InlineData("00000000000000000000000000000000")]
    public async Task SpentToday_BadLedgerAccountId_InvalidArgumentNamingIt(string id)
    {
        await using var host = await FeedTestHost.StartAsync();

        await RpcAssert.InvalidAsync("ledger_account_id", () => host.Feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = id }).ResponseAsync);
    }

    [Fact]
    public async Task SpentToday_LedgerDown_Unavailable()
    {
        await using var host = await FeedTestHost.StartAsync();
        var account = await host.FundedAccountAsync(100);
        host.FakeLedger.Unavailable = true;

        await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Feed.SpentTodayAsync(new SpentTodayRequest { LedgerAccountId = account }).ResponseAsync);
    }
}
