using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

public sealed class ReadTests
{
    private static async Task<TestLedger> WithHistoryAsync(int transfers)
    {
        var ledger = await StartAsync();
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        await ledger.AccountAsync(3);
        for (var i = 0; i < transfers; i++)
        {
            // Alternate sides so the page merges debit and credit history; a minute apart.
            await ledger.TransferOkAsync(100 + i, i % 2 == 0 ? Id(1) : Id(2), i % 2 == 0 ? Id(2) : Id(3), i + 1);
            ledger.Time.Advance(TimeSpan.FromMinutes(1));
        }
        return ledger;
    }

    [Fact]
    public async Task GetAccountsAndTransfers_SomeUnknown_OnlyFoundReturned()
    {
        await using var ledger = await WithHistoryAsync(1);

        var accounts = await ledger.Engine.GetAccountsAsync([Id(1), Id(42)]);
        var transfers = await ledger.Engine.GetTransfersAsync([Id(100), Id(42)]);

        Assert.Equal(Id(1), Assert.Single(accounts).Id);
        Assert.Equal(Id(100), Assert.Single(transfers).Id);
    }

    [Fact]
    public async Task ListAccountTransfers_Pages_NewestFirstBothSidesNoGapsNoRepeats()
    {
        await using var ledger = await WithHistoryAsync(25);
        var seen = new List<LedgerTransfer>();
        var cursor = "";
        var pages = 0;

        do
        {
            var page = await ledger.Engine.ListAccountTransfersAsync(Id(2), cursor, 10, 0);
            seen.AddRange(page!.Transfers);
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor.Length > 0);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(1, 25).Reverse().Select(i => (long)i), seen.Select(t => t.Sequence));
    }

    [Fact]
    public async Task ListAccountTransfers_ExactlyOnePage_NoNextCursor()
    {
        await using var ledger = await WithHistoryAsync(4);

        var page = await ledger.Engine.ListAccountTransfersAsync(Id(2), "", 4, 0);

        Assert.Equal(4, page!.Transfers.Count);
        Assert.Equal("", page.NextCursor);
    }

    [Fact]
    public async Task ListAccountTransfers_Since_OnlyThatRecent()
    {
        await using var ledger = await WithHistoryAsync(10);
        var since = Start.AddMinutes(7).ToUnixTimeMilliseconds();

        var page = await ledger.Engine.ListAccountTransfersAsync(Id(2), "", 0, since);

        Assert.Equal([10L, 9L, 8L], page!.Transfers.Select(t => t.Sequence));
        Assert.Equal("", page.NextCursor);
    }

    [Fact]
    public async Task ListAccountTransfers_DefaultLimit_Fifty()
    {
        await using var ledger = await StartAsync();
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2);
        await ledger.Engine.SubmitAsync(Enumerable.Range(1, 60).Select(i => Transfer(i, Id(1), Id(2), 1)).ToArray());

        var page = await ledger.Engine.ListAccountTransfersAsync(Id(2), null, 0, 0);

        Assert.Equal(LedgerLimits.ListTransfersLimitDefault, page!.Transfers.Count);
        Assert.NotEqual("", page.NextCursor);
    }

    [Fact]
    public async Task ListAccountTransfers_UnknownAccount_Null()
    {
        await using var ledger = await WithHistoryAsync(1);

        Assert.Null(await ledger.Engine.ListAccountTransfersAsync(Id(42), "", 0, 0));
    }

    [Fact]
    public async Task ListAccountTransfers_CursorOfAnotherAccount_ArgumentExceptionNamingCursor()
    {
        await using var ledger = await WithHistoryAsync(6);
        var page = await ledger.Engine.ListAccountTransfersAsync(Id(2), "", 2, 0);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ledger.Engine.ListAccountTransfersAsync(Id(1), page!.NextCursor, 2, 0));

        Assert.Equal("cursor", error.ParamName);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("AAAAAAAAAAAAAAAAAA")]
    public async Task ListAccountTransfers_MalformedCursor_ArgumentExceptionNamingCursor(string cursor)
    {
        await using var ledger = await WithHistoryAsync(1);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ledger.Engine.ListAccountTransfersAsync(Id(2), cursor, 2, 0));

        Assert.Equal("cursor", error.ParamName);
    }

    [Theory]
    [InlineData(-1, 0, "limit")]
    [InlineData(LedgerLimits.ListTransfersLimitMax + 1, 0, "limit")]
    [InlineData(10, -1, "sinceUnixMs")]
    public async Task ListAccountTransfers_OutOfRange_ArgumentOutOfRangeNamingIt(int limit, long since, string parameter)
    {
        await using var ledger = await WithHistoryAsync(1);

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ledger.Engine.ListAccountTransfersAsync(Id(2), "", limit, since));

        Assert.Equal(parameter, error.ParamName);
    }

    [Fact]
    public async Task ListAccountTransfers_HoldStateChanges_ShownAsCurrent()
    {
        await using var ledger = await WithHistoryAsync(1);
        await ledger.TransferOkAsync(200, Id(1), Id(2), 5, TransferFlags.Pending);
        await ledger.SubmitAsync(Void(201, 200));

        var page = await ledger.Engine.ListAccountTransfersAsync(Id(2), "", 0, 0);

        Assert.Equal(TransferState.Voided, page!.Transfers.Single(t => t.Id == Id(200)).State);
    }
}
