using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Bulwark.Feed.Protos;
using Grpc.Core;

namespace Bulwark.Feed.Tests.Grpc;

public sealed class ListFeedTests(FeedHostFixture fixture) : IClassFixture<FeedHostFixture>
{
    private FeedTestHost Host => fixture.Host;

    private async Task<ListFeedResponse> FeedAsync(string account, int limit = 0, string cursor = "") =>
        await Host.Feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = account, Limit = limit, Cursor = cursor });

    private static string Hex(Bulwark.Ledger.Protos.Uint128 id) =>
        (((UInt128)id.High << 64) | id.Low).ToString("x32", CultureInfo.InvariantCulture);

    [Fact]
    public async Task ListFeed_Income_PositiveSettledWithDescriptionAndCategory()
    {
        var account = await Host.FundedAccountAsync(50_000);

        var item = Assert.Single((await FeedAsync(account)).Items);

        Assert.Equal(50_000, item.Amount);
        Assert.Equal("GBP", item.Currency);
        Assert.Equal("Salary", item.Description);
        Assert.Equal("income", item.Category);
        Assert.Equal(FeedItemState.Settled, item.State);
        Assert.Equal(FeedTestHost.Start.ToUnixTimeMilliseconds(), item.TimestampUnixMs);
        Assert.Equal(0, item.OriginalAmount);
    }

    [Fact]
    public async Task ListFeed_PaymentBetweenCustomers_EachSideSeesTheOtherPartyAndTheReference()
    {
        var payer = await Host.FundedAccountAsync(10_000);
        var payee = await Host.NewAccountAsync();
        var payment = await Host.SubmitAsync(FeedTestHost.Payment(payer, payee, 1_500, code: 3,
            ("category", "transfers"), ("debit_description", "Bob Payee"), ("credit_description", "Alice Payer"), ("reference", "Dinner")));

        var payerItem = (await FeedAsync(payer)).Items[0];
        var payeeItem = Assert.Single((await FeedAsync(payee)).Items);

        Assert.Equal(Hex(payment.Id), payerItem.TransferId);
        Assert.Equal(-1_500, payerItem.Amount);
        Assert.Equal("Bob Payee", payerItem.Description);
        Assert.Equal("transfers", payerItem.Category);
        Assert.Equal("Dinner", payerItem.Reference);
        Assert.Equal(1_500, payeeItem.Amount);
        Assert.Equal("Alice Payer", payeeItem.Description);
        Assert.Equal("Dinner", payeeItem.Reference);
    }

    [Fact]
    public async Task ListFeed_MoveIntoPot_NegativeOnAccountPositiveOnPotNamedAfterPot()
    {
        var account = await Host.FundedAccountAsync(10_000);
        var pot = await Host.NewAccountAsync(code: 2);
        await Host.SubmitAsync(FeedTestHost.Payment(account, pot, 2_000, code: 2, ("description", "Holiday"), ("category", "pot")));

        var accountItem = (await FeedAsync(account)).Items[0];
        var potItem = Assert.Single((await FeedAsync(pot)).Items);

        Assert.Equal(-2_000, accountItem.Amount);
        Assert.Equal("Holiday", accountItem.Description);
        Assert.Equal("pot", accountItem.Category);
        Assert.Equal(2_000, potItem.Amount);
        Assert.Equal("Holiday", potItem.Description);
    }

    [Fact]
    public async Task ListFeed_NoMetadata_DefaultDescriptionAndGeneralCategory()
    {
        var account = await Host.NewAccountAsync();
        await Host.SubmitAsync(FeedTestHost.Payment(Host.BankAccount, account, 100, code: 1));

        var item = Assert.Single((await FeedAsync(account)).Items);

        Assert.Equal("Transfer", item.Description);
        Assert.Equal("general", item.Category);
        Assert.Empty(item.MerchantName);
        Assert.Empty(item.Reference);
    }

    [Fact]
    public async Task ListFeed_HoldStillPending_PendingWithMerchant()
    {
        var account = await Host.FundedAccountAsync(10_000);
        await Host.SubmitAsync(Host.CardHold(account, 1_299, "Pret A Manger"));

        var item = (await FeedAsync(account)).Items[0];

        Assert.Equal(FeedItemState.Pending, item.State);
        Assert.Equal(-1_299, item.Amount);
        Assert.Equal("Pret A Manger", item.Description);
        Assert.Equal("Pret A Manger", item.MerchantName);
        Assert.Equal("groceries", item.Category);
    }

    [Fact]
    public async Task ListFeed_HoldPostedInFull_OneSettledItemAndPostRecordHidden()
    {
        var account = await Host.FundedAccountAsync(10_000);
        var hold = Host.CardHold(account, 2_000);
        await Host.SubmitAsync(hold);
        await Host.SubmitAsync(FeedTestHost.Post(hold));

        var items = (await FeedAsync(account)).Items;

        Assert.Equal(2, items.Count);
        Assert.Equal(Hex(hold.Id), items[0].TransferId);
        Assert.Equal(FeedItemState.Settled, items[0].State);
        Assert.Equal(-2_000, items[0].Amount);
        Assert.Equal(0, items[0].OriginalAmount);
    }

    [Fact]
    public async Task ListFeed_HoldPostedForLess_SettledAtPostedAmountWithHeldAsOriginal()
    {
        var account = await Host.FundedAccountAsync(10_000);
        var hold = Host.CardHold(account, 5_000, "Shell");
        await Host.SubmitAsync(hold);
        await Host.SubmitAsync(FeedTestHost.Post(hold, 4_321));

        var item = (await FeedAsync(account)).Items[0];

        Assert.Equal(FeedItemState.Settled, item.State);
        Assert.Equal(-4_321, item.Amount);
        Assert.Equal(-5_000, item.OriginalAmount);
        Assert.Equal("Shell", item.Description);
    }

    [Fact]
    public async Task ListFeed_HoldVoided_ReleasedAndVoidRecordHidden()
    {
        var account = await Host.FundedAccountAsync(10_000);
        var hold = Host.CardHold(account, 700);
        await Host.SubmitAsync(hold);
        await Host.SubmitAsync(FeedTestHost.Void(hold));

        var items = (await FeedAsync(account)).Items;

        Assert.Equal(2, items.Count);
        Assert.Equal(FeedItemState.Released, items[0].State);
        Assert.Equal(-700, items[0].Amount);
    }

    [Fact]
    public async Task ListFeed_HoldExpired_Released()
    {
        await using var host = await FeedTestHost.StartAsync();
        var account = await host.FundedAccountAsync(10_000);
        await host.SubmitAsync(host.CardHold(account, 900, timeoutSeconds: 60));

        host.Time.Advance(TimeSpan.FromSeconds(61));
        var item = (await host.Feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = account })).Items[0];

        Assert.Equal(FeedItemState.Released, item.State);
        Assert.Equal(-900, item.Amount);
    }

    [Fact]
    public async Task ListFeed_PagesOfTen_NewestFirstWithoutGapsOrRepeats()
    {
        var account = await Host.NewAccountAsync();
        var ids = new List<string>();
        for (var i = 0; i < 25; i++)
        {
            ids.Add(Hex((await Host.SubmitAsync(FeedTestHost.Payment(Host.BankAccount, account, 100 + i, code: 5))).Id));
        }

        var first = await FeedAsync(account, limit: 10);
        var second = await FeedAsync(account, limit: 10, cursor: first.NextCursor);
        var third = await FeedAsync(account, limit: 10, cursor: second.NextCursor);

        Assert.Equal(10, first.Items.Count);
        Assert.Equal(10, second.Items.Count);
        Assert.Equal(5, third.Items.Count);
        Assert.NotEmpty(first.NextCursor);
        Assert.NotEmpty(second.NextCursor);
        Assert.Empty(third.NextCursor);
        ids.Reverse();
        Assert.Equal(ids, first.Items.Concat(second.Items).Concat(third.Items).Select(item => item.TransferId));
    }

    [Fact]
    public async Task ListFeed_PostRecordsBetweenHolds_PagesStillFullAndComplete()
    {
        var account = await Host.FundedAccountAsync(100_000);
        for (var i = 0; i < 6; i++)
        {
            var hold = Host.CardHold(account, 100 + i);
            await Host.SubmitAsync(hold);
            await Host.SubmitAsync(FeedTestHost.Post(hold));
        }

        var first = await FeedAsync(account, limit: 3);
        var second = await FeedAsync(account, limit: 3, cursor: first.NextCursor);
        var third = await FeedAsync(account, limit: 3, cursor: second.NextCursor);

        Assert.Equal([-105, -104, -103], first.Items.Select(item => item.Amount));
        Assert.Equal([-102, -101, -100], second.Items.Select(item => item.Amount));
        Assert.Equal([100_000], third.Items.Select(item => item.Amount));
        Assert.Empty(third.NextCursor);
    }

    [Fact]
    public async Task ListFeed_LimitZero_TwentyItems()
    {
        var account = await Host.NewAccountAsync();
        for (var i = 0; i < 25; i++)
        {
            await Host.SubmitAsync(FeedTestHost.Payment(Host.BankAccount, account, 1, code: 5));
        }

        var page = await FeedAsync(account, limit: 0);

        Assert.Equal(FeedLimits.ListLimitDefault, page.Items.Count);
        Assert.NotEmpty(page.NextCursor);
    }

    [Fact]
    public async Task ListFeed_AccountWithoutTransfers_EmptyWithoutCursor()
    {
        var account = await Host.NewAccountAsync();

        var page = await FeedAsync(account);

        Assert.Empty(page.Items);
        Assert.Empty(page.NextCursor);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(FeedLimits.ListLimitMax + 1)]
    public async Task ListFeed_LimitOutOfRange_InvalidArgumentNamingLimit(int limit)
    {
        var account = await Host.NewAccountAsync();

        await RpcAssert.InvalidAsync("limit", () => FeedAsync(account, limit: limit));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("f1.")]
    [InlineData("f1.!!!not-base64!!!")]
    [InlineData("f1.AAAA")]
    public async Task ListFeed_CursorNotIssuedByFeed_InvalidArgumentNamingCursor(string cursor)
    {
        var account = await Host.NewAccountAsync();

        await RpcAssert.InvalidAsync("cursor", () => FeedAsync(account, cursor: cursor));
    }

    [Fact]
    public async Task ListFeed_CursorTooLong_InvalidArgumentNamingCursor()
    {
        var account = await Host.NewAccountAsync();

        await RpcAssert.InvalidAsync("cursor", () => FeedAsync(account, cursor: "f1." + new string('A', FeedLimits.CursorLengthMax)));
    }

    [Fact]
    public async Task ListFeed_CursorFromAnotherAccountsFeed_InvalidArgumentNamingCursor()
    {
        var account = await Host.NewAccountAsync();
        var other = await Host.NewAccountAsync();
        for (var i = 0; i < 3; i++)
        {
            await Host.SubmitAsync(FeedTestHost.Payment(Host.BankAccount, account, 1, code: 5));
        }
        var page = await FeedAsync(account, limit: 1);

        await RpcAssert.InvalidAsync("cursor", () => FeedAsync(other, cursor: page.NextCursor));
    }

    [Fact]
    public async Task ListFeed_LedgerRefusesInnerCursor_InvalidArgumentNamingCursor()
    {
        var account = await Host.NewAccountAsync();
        var payload = new byte[16 + 3];
        BinaryPrimitives.WriteUInt128BigEndian(payload, UInt128.Parse(account, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
        Encoding.ASCII.GetBytes("abc").CopyTo(payload, 16);

        await RpcAssert.InvalidAsync("cursor", () => FeedAsync(account, cursor: "f1." + Base64Url.EncodeToString(payload)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-hex")]
    [InlineData("0123456789abcdef0123456789abcde")]
    [InlineData("0123456789abcdef0123456789abcdef0")]
    [InlineData("0123456789abcdef0123456789abcdeg")]
    [InlineData("00000000000000000000000000000000")]
    public async Task ListFeed_BadLedgerAccountId_InvalidArgumentNamingIt(string id)
    {
        await RpcAssert.InvalidAsync("ledger_account_id", () => FeedAsync(id));
    }

    [Fact]
    public async Task ListFeed_UnknownAccount_NotFound()
    {
        await RpcAssert.FailsAsync(StatusCode.NotFound, () => FeedAsync(FeedTestHost.NewId()));
    }

    [Fact]
    public async Task ListFeed_LedgerDown_Unavailable()
    {
        await using var host = await FeedTestHost.StartAsync();
        var account = await host.FundedAccountAsync(100);
        host.FakeLedger.Unavailable = true;

        await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = account }).ResponseAsync);
    }
}
