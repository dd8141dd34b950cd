using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>Two-phase transfers: holds, posts (full and partial), voids and expiry.</summary>
public sealed class HoldTests
{
    /// <summary>Account 2 (limited) holds 1,000 from the bank (1); 3 is a merchant.</summary>
    private static async Task<TestLedger> FundedAsync(LedgerOptions? options = null)
    {
        var ledger = await StartAsync(options: options);
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2, AccountFlags.DebitsMustNotExceedCredits);
        await ledger.AccountAsync(3);
        await ledger.TransferOkAsync(1, Id(1), Id(2), 1_000);
        return ledger;
    }

    private static async Task AssertBalancesAsync(TestLedger ledger, UInt128 id, long debitsPending, long debitsPosted, long creditsPending, long creditsPosted)
    {
        var account = await ledger.GetAccountAsync(id);
        Assert.Equal((debitsPending, debitsPosted, creditsPending, creditsPosted),
            (account.DebitsPending, account.DebitsPosted, account.CreditsPending, account.CreditsPosted));
    }

    [Fact]
    public async Task Hold_Ok_MovesAmountIntoPendingWithExpiry()
    {
        await using var ledger = await FundedAsync();

        var hold = await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending, timeoutSeconds: 60);

        Assert.Equal(TransferState.Pending, hold.State);
        Assert.Equal(Start.ToUnixTimeMilliseconds() + 60_000, hold.ExpiresAtUnixMs);
        await AssertBalancesAsync(ledger, Id(2), 300, 0, 0, 1_000);
        await AssertBalancesAsync(ledger, Id(3), 0, 0, 300, 0);
    }

    [Fact]
    public async Task Post_FullAmountWithZero_ReleasesHoldAndPostsIt()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        var post = await ledger.SubmitAsync(Post(11, 10));

        Assert.Equal(TransferStatus.Ok, post.Status);
        Assert.Equal(300, post.Transfer!.Amount);
        Assert.Equal((Id(2), Id(3), "GBP"), (post.Transfer.DebitAccountId, post.Transfer.CreditAccountId, post.Transfer.Currency));
        var hold = await ledger.GetTransferAsync(Id(10));
        Assert.Equal((TransferState.HoldPosted, 300L), (hold.State, hold.PostedAmount));
        await AssertBalancesAsync(ledger, Id(2), 0, 300, 0, 1_000);
        await AssertBalancesAsync(ledger, Id(3), 0, 0, 0, 300);
    }

    [Fact]
    public async Task Post_SmallerAmount_ReleasesWholeHoldAndPostsOnlyThat()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        var post = await ledger.SubmitAsync(Post(11, 10, amount: 120) with { DebitAccountId = Id(2), CreditAccountId = Id(3), Currency = "GBP" });

        Assert.Equal(TransferStatus.Ok, post.Status);
        Assert.Equal(120, (await ledger.GetTransferAsync(Id(10))).PostedAmount);
        await AssertBalancesAsync(ledger, Id(2), 0, 120, 0, 1_000);
        await AssertBalancesAsync(ledger, Id(3), 0, 0, 0, 120);
    }

    [Fact]
    public async Task Post_LargerThanHold_ExceedsPendingTransferAmount()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        var post = await ledger.SubmitAsync(Post(11, 10, amount: 301));

        Assert.Equal(TransferStatus.ExceedsPendingTransferAmount, post.Status);
        Assert.Equal(TransferState.Pending, (await ledger.GetTransferAsync(Id(10))).State);
    }

    [Fact]
    public async Task Post_NegativeAmount_AmountMustBePositive()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        var post = await ledger.SubmitAsync(Post(11, 10, amount: -1));

        Assert.Equal(TransferStatus.AmountMustBePositive, post.Status);
    }

    [Fact]
    public async Task Void_ReleasesHold()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        var voided = await ledger.SubmitAsync(Void(11, 10));

        Assert.Equal(TransferStatus.Ok, voided.Status);
        Assert.Equal(TransferState.Voided, (await ledger.GetTransferAsync(Id(10))).State);
        await AssertBalancesAsync(ledger, Id(2), 0, 0, 0, 1_000);
        await AssertBalancesAsync(ledger, Id(3), 0, 0, 0, 0);
    }

    [Fact]
    public async Task Void_PartialAmount_ExceedsPendingTransferAmount()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        var voided = await ledger.SubmitAsync(Void(11, 10) with { Amount = 100 });

        Assert.Equal(TransferStatus.ExceedsPendingTransferAmount, voided.Status);
    }

    [Fact]
    public async Task Post_UnknownHold_PendingTransferNotFound()
    {
        await using var ledger = await FundedAsync();

        Assert.Equal(TransferStatus.PendingTransferNotFound, (await ledger.SubmitAsync(Post(11, 99))).Status);
        Assert.Equal(TransferStatus.PendingTransferNotFound, (await ledger.SubmitAsync(Void(12, 0))).Status);
    }

    [Fact]
    public async Task Post_OfSinglePhaseTransfer_PendingTransferNotPending()
    {
        await using var ledger = await FundedAsync();

        var post = await ledger.SubmitAsync(Post(11, 1));

        Assert.Equal(TransferStatus.PendingTransferNotPending, post.Status);
    }

    [Fact]
    public async Task PostOrVoid_OfPostedHold_PendingTransferAlreadyPosted()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);
        await ledger.SubmitAsync(Post(11, 10));

        Assert.Equal(TransferStatus.PendingTransferAlreadyPosted, (await ledger.SubmitAsync(Post(12, 10))).Status);
        Assert.Equal(TransferStatus.PendingTransferAlreadyPosted, (await ledger.SubmitAsync(Void(13, 10))).Status);
        await AssertBalancesAsync(ledger, Id(2), 0, 300, 0, 1_000);
    }

    [Fact]
    public async Task PostOrVoid_OfVoidedHold_PendingTransferAlreadyVoided()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);
        await ledger.SubmitAsync(Void(11, 10));

        Assert.Equal(TransferStatus.PendingTransferAlreadyVoided, (await ledger.SubmitAsync(Post(12, 10))).Status);
        Assert.Equal(TransferStatus.PendingTransferAlreadyVoided, (await ledger.SubmitAsync(Void(13, 10))).Status);
    }

    [Fact]
    public async Task Post_AccountsOtherThanTheHolds_PendingAccountsMismatch()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        Assert.Equal(TransferStatus.PendingAccountsMismatch, (await ledger.SubmitAsync(Post(11, 10) with { DebitAccountId = Id(1) })).Status);
        Assert.Equal(TransferStatus.PendingAccountsMismatch, (await ledger.SubmitAsync(Post(12, 10) with { CreditAccountId = Id(1) })).Status);
    }

    [Fact]
    public async Task Post_CurrencyOtherThanTheHolds_CurrencyMismatch()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);

        Assert.Equal(TransferStatus.CurrencyMismatch, (await ledger.SubmitAsync(Post(11, 10) with { Currency = "EUR" })).Status);
        Assert.Equal(TransferStatus.UnknownCurrency, (await ledger.SubmitAsync(Post(12, 10) with { Currency = "ZZZ" })).Status);
    }

    [Fact]
    public async Task Expiry_SweepAfterTimeout_ReleasesHoldAndMarksItExpired()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending, timeoutSeconds: 60);
        await ledger.TransferOkAsync(11, Id(2), Id(3), 200, TransferFlags.Pending, timeoutSeconds: 120);

        ledger.Time.Advance(TimeSpan.FromSeconds(60));
        await ledger.Engine.ExpireHoldsAsync();

        Assert.Equal(TransferState.Expired, (await ledger.GetTransferAsync(Id(10))).State);
        Assert.Equal(TransferState.Pending, (await ledger.GetTransferAsync(Id(11))).State);
        await AssertBalancesAsync(ledger, Id(2), 200, 0, 0, 1_000);
        await AssertBalancesAsync(ledger, Id(3), 0, 0, 200, 0);
    }

    [Fact]
    public async Task Expiry_TimerEverySecond_ExpiresWithoutBeingAsked()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending, timeoutSeconds: 5);

        for (var second = 0; second < 6; second++)
        {
            ledger.Time.Advance(TimeSpan.FromSeconds(1));
        }
        // The timer only queues the sweep; wait (without asserting on time) until the writer did it.
        var state = TransferState.Pending;
        for (var attempt = 0; attempt < 1_000 && state == TransferState.Pending; attempt++)
        {
            await Task.Delay(10);
            state = (await ledger.GetTransferAsync(Id(10))).State;
        }

        Assert.Equal(TransferState.Expired, state);
    }

    [Fact]
    public async Task PostOrVoid_OfSweptHold_PendingTransferExpired()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending, timeoutSeconds: 1);
        ledger.Time.Advance(TimeSpan.FromSeconds(2));
        await ledger.Engine.ExpireHoldsAsync();

        Assert.Equal(TransferStatus.PendingTransferExpired, (await ledger.SubmitAsync(Post(11, 10))).Status);
        Assert.Equal(TransferStatus.PendingTransferExpired, (await ledger.SubmitAsync(Void(12, 10))).Status);
    }

    [Fact]
    public async Task Post_AfterExpiryTimeBeforeTheSweep_PendingTransferExpiredAndHoldExpiresInThatBatch()
    {
        // A sweep interval longer than the test: the post arrives in the gap before any sweep.
        await using var ledger = await FundedAsync(new LedgerOptions { ExpirySweepInterval = TimeSpan.FromHours(1) });
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending, timeoutSeconds: 30);
        ledger.Time.Advance(TimeSpan.FromSeconds(30));

        var post = await ledger.SubmitAsync(Post(11, 10));

        Assert.Equal(TransferStatus.PendingTransferExpired, post.Status);
        Assert.Equal(TransferState.Expired, (await ledger.GetTransferAsync(Id(10))).State);
        Assert.Empty(await ledger.Engine.GetTransfersAsync([Id(11)]));
        await AssertBalancesAsync(ledger, Id(2), 0, 0, 0, 1_000);
    }

    [Fact]
    public async Task Post_JustBeforeExpiry_Ok()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending, timeoutSeconds: 30);
        ledger.Time.Advance(TimeSpan.FromMilliseconds(29_999));

        Assert.Equal(TransferStatus.Ok, (await ledger.SubmitAsync(Post(11, 10))).Status);
    }

    [Fact]
    public async Task Post_RetriedWithSameBody_DuplicateReturnsOriginal()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);
        var first = await ledger.SubmitAsync(Post(11, 10));

        var retry = await ledger.SubmitAsync(Post(11, 10));
        var explicitSame = await ledger.SubmitAsync(Post(11, 10, amount: 300) with { DebitAccountId = Id(2), Currency = "GBP" });

        Assert.True(retry.Duplicate);
        Assert.Equal(first.Transfer, retry.Transfer);
        Assert.True(explicitSame.Duplicate);
        await AssertBalancesAsync(ledger, Id(3), 0, 0, 0, 300);
    }

    [Fact]
    public async Task Post_PartialRetriedAsFull_IdAlreadyUsedWithDifferentBody()
    {
        await using var ledger = await FundedAsync();
        await ledger.TransferOkAsync(10, Id(2), Id(3), 300, TransferFlags.Pending);
        await ledger.SubmitAsync(Post(11, 10, amount: 100));

        var retry = await ledger.SubmitAsync(Post(11, 10));

        Assert.Equal(TransferStatus.IdAlreadyUsedWithDifferentBody, retry.Status);
    }

    [Fact]
    public async Task Post_CodeUnset_TakesTheHoldsCode()
    {
        await using var ledger = await FundedAsync();
        await ledger.SubmitAsync(Transfer(10, Id(2), Id(3), 300, TransferFlags.Pending) with { Code = 4 });

        var post = await ledger.SubmitAsync(Post(11, 10));

        Assert.Equal(4u, post.Transfer!.Code);
    }

    [Fact]
    public async Task HoldAndPost_InOneCall_PostSeesTheHold()
    {
        await using var ledger = await FundedAsync();

        var results = await ledger.Engine.SubmitAsync([Transfer(10, Id(2), Id(3), 300, TransferFlags.Pending), Post(11, 10, 250), Void(12, 10)]);

        Assert.Equal([TransferStatus.Ok, TransferStatus.Ok, TransferStatus.PendingTransferAlreadyPosted], results.Select(r => r.Status));
        Assert.Equal(TransferState.Pending, results[0].Transfer!.State);
        var hold = await ledger.GetTransferAsync(Id(10));
        Assert.Equal((TransferState.HoldPosted, 250L), (hold.State, hold.PostedAmount));
        await AssertBalancesAsync(ledger, Id(2), 0, 250, 0, 1_000);
    }

    [Fact]
    public async Task Expiry_ManyHolds_AllReleasedAndMoneyConserved()
    {
        await using var ledger = await FundedAsync();
        var holds = Enumerable.Range(100, 50).Select(i => Transfer(i, Id(2), Id(3), 10, TransferFlags.Pending, (uint)(1 + (i % 3)))).ToArray();
        await ledger.Engine.SubmitAsync(holds);

        ledger.Time.Advance(TimeSpan.FromSeconds(10));
        await ledger.Engine.ExpireHoldsAsync();

        var stored = await ledger.Engine.GetTransfersAsync(holds.Select(h => h.Id).ToArray());
        Assert.All(stored, hold => Assert.Equal(TransferState.Expired, hold.State));
        await AssertBalancesAsync(ledger, Id(2), 0, 0, 0, 1_000);
        Assert.True(LedgerChecker.Check(ledger.DatabasePath).Ok);
    }
}
