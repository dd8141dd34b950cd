using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>
/// Forced debits: what the bank must record whatever the balance (a presentment the scheme has
/// already settled, a stand-in approval). They skip the limit and nothing else.
/// </summary>
public sealed class ForceTests
{
    /// <summary>Account 2 (limited, overdraft 100) holds 1,000 from the bank (1); 3 is a merchant.</summary>
    private static async Task<TestLedger> FundedAsync()
    {
        var ledger = await StartAsync();
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2, AccountFlags.DebitsMustNotExceedCredits, overdraft: 100);
        await ledger.AccountAsync(3);
        await ledger.TransferOkAsync(1, Id(1), Id(2), 1_000);
        return ledger;
    }

    [Fact]
    public async Task Forced_BeyondOverdraft_IsRecordedAndLaterDebitsAreDeclined()
    {
        await using var ledger = await FundedAsync();

        var forced = await ledger.TransferOkAsync(10, Id(2), Id(3), 1_500, TransferFlags.Force);
        var next = await ledger.SubmitAsync(Transfer(11, Id(2), Id(3), 1));

        Assert.Equal(TransferState.Posted, forced.State);
        var account = await ledger.GetAccountAsync(Id(2));
        Assert.Equal((1_500L, 1_000L), (account.DebitsPosted, account.CreditsPosted));
        Assert.Equal(TransferStatus.ExceedsCredits, next.Status);
        Assert.True(ledger.Check().Ok, string.Join("; ", ledger.Check().Problems));
    }

    [Fact]
    public async Task ForcedHold_BeyondOverdraft_HoldsAndPostsInFull()
    {
        await using var ledger = await FundedAsync();

        await ledger.TransferOkAsync(10, Id(2), Id(3), 2_000, TransferFlags.Pending | TransferFlags.Force);
        var post = await ledger.SubmitAsync(Post(11, 10));

        Assert.Equal(TransferStatus.Ok, post.Status);
        var account = await ledger.GetAccountAsync(Id(2));
        Assert.Equal((0L, 2_000L), (account.DebitsPending, account.DebitsPosted));
        Assert.True(ledger.Check().Ok, string.Join("; ", ledger.Check().Problems));
    }

    [Fact]
    public async Task Forced_AfterAccountIsOverLimit_StillRecorded_AndACreditLetsOrdinaryDebitsBackIn()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 1_500, TransferFlags.Force);

        await ledger.TransferOkAsync(11, Id(2), Id(3), 50, TransferFlags.Force);
        await ledger.TransferOkAsync(12, Id(1), Id(2), 1_000);
        var ordinary = await ledger.SubmitAsync(Transfer(13, Id(2), Id(3), 500));

        // 1,550 forced + 500 = 2,050 debits against 2,000 credits + 100 overdraft: within the limit again.
        Assert.Equal(TransferStatus.Ok, ordinary.Status);
        Assert.True(ledger.Check().Ok, string.Join("; ", ledger.Check().Problems));
    }

    [Theory]
    [InlineData(TransferFlags.Force | TransferFlags.PostPending)]
    [InlineData(TransferFlags.Force | TransferFlags.VoidPending)]
    public async Task Force_OnPostOrVoid_IsInvalidFlags(TransferFlags flags)
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        var result = await ledger.SubmitAsync(Post(11, 10) with { Flags = flags });

        Assert.Equal(TransferStatus.InvalidFlags, result.Status);
        Assert.Equal(TransferState.Pending, (await ledger.GetTransferAsync(Id(10))).State);
    }

    [Fact]
    public async Task Forced_Retried_IsADuplicate_AndTheSameIdUnforcedIsADifferentBody()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 1_500, TransferFlags.Force);

        var retry = await ledger.SubmitAsync(Transfer(10, Id(2), Id(3), 1_500, TransferFlags.Force));
        var unforced = await ledger.SubmitAsync(Transfer(10, Id(2), Id(3), 1_500));

        Assert.Equal((TransferStatus.Ok, true), (retry.Status, retry.Duplicate));
        Assert.Equal(TransferStatus.IdAlreadyUsedWithDifferentBody, unforced.Status);
        Assert.Equal(1_500, (await ledger.GetAccountAsync(Id(2))).DebitsPosted);
    }

    [Fact]
    public async Task Forced_OnUnknownAccountOrOtherCurrency_IsStillRefused()
    {
        await using var ledger = await FundedAsync();
        await ledger.AccountAsync(4, currency: "EUR");

        var unknown = await ledger.SubmitAsync(Transfer(10, Id(99), Id(3), 10, TransferFlags.Force));
        var mismatch = await ledger.SubmitAsync(Transfer(11, Id(2), Id(4), 10, TransferFlags.Force));

        Assert.Equal(TransferStatus.DebitAccountNotFound, unknown.Status);
        Assert.Equal(TransferStatus.CurrencyMismatch, mismatch.Status);
    }
}
