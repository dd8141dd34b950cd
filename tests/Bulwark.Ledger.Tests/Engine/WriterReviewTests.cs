using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>
/// Review findings on the writer: one submission's transfers can land in more than one batch (the
/// writer drains whatever is queued, and a submitter queues item by item), so a failed batch must
/// not leave the rest of a failed submission to be committed, nor claim nothing was written when an
/// earlier batch already committed part of it.
/// </summary>
public sealed class WriterReviewTests
{
    private static async Task<(TestLedger Ledger, HookedStore Store)> StartOneItemBatchesAsync()
    {
        HookedStore? hooked = null;
        // One item per batch makes the split that happens under load certain.
        var ledger = await StartAsync(wrapStore: inner => hooked = new HookedStore(inner), options: new LedgerOptions { BatchTransfersMax = 1 });
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(3);
        return (ledger, hooked!);
    }

    private static bool Holds(LedgerCommit commit, int id) => commit.NewTransfers.Any(row => row.Row.Id == Id(id));

    [Fact]
    public async Task Submit_BatchWithFirstItemFails_RestOfTheFailedSubmissionIsNotCommitted()
    {
        var (ledger, store) = await StartOneItemBatchesAsync();
        await using var _ = ledger;
        store.BeforeCommit = commit =>
        {
            if (Holds(commit, 11))
            {
                throw new IOException("disk full");
            }
        };

        var error = await Assert.ThrowsAsync<LedgerUnavailableException>(() =>
            ledger.Engine.SubmitAsync([Transfer(11, Id(1), Id(3), 5), Transfer(12, Id(1), Id(3), 7)]));
        store.BeforeCommit = null;
        // Queued after transfer 12, so once it is answered the writer has dealt with 12 too.
        await ledger.TransferOkAsync(13, Id(1), Id(3), 100);

        Assert.Contains("nothing of it was written", error.Message, StringComparison.Ordinal);
        Assert.Empty(await ledger.Engine.GetTransfersAsync([Id(11), Id(12)]));
        Assert.Equal(100, (await ledger.GetAccountAsync(Id(3))).CreditsPosted);
        Assert.True(LedgerChecker.Check(ledger.DatabasePath).Ok);
    }

    [Fact]
    public async Task Submit_BatchWithLaterItemFails_ErrorSaysPartWasCommittedAndRetryCompletesIt()
    {
        var (ledger, store) = await StartOneItemBatchesAsync();
        await using var _ = ledger;
        store.BeforeCommit = commit =>
        {
            if (Holds(commit, 12))
            {
                throw new IOException("disk full");
            }
        };

        var error = await Assert.ThrowsAsync<LedgerUnavailableException>(() =>
            ledger.Engine.SubmitAsync([Transfer(11, Id(1), Id(3), 5), Transfer(12, Id(1), Id(3), 7)]));
        store.BeforeCommit = null;
        var retry = await ledger.Engine.SubmitAsync([Transfer(11, Id(1), Id(3), 5), Transfer(12, Id(1), Id(3), 7)]);

        // Transfer 11 was committed in the batch before: "nothing was written" would be false.
        Assert.DoesNotContain("nothing of it was written", error.Message, StringComparison.Ordinal);
        Assert.Contains("already committed", error.Message, StringComparison.Ordinal);
        Assert.True(retry[0] is { IsOk: true, Duplicate: true });
        Assert.True(retry[1] is { IsOk: true, Duplicate: false });
        Assert.Equal(12, (await ledger.GetAccountAsync(Id(3))).CreditsPosted);
        Assert.True(LedgerChecker.Check(ledger.DatabasePath).Ok);
    }
    [Fact]
    public async Task Submit_LedgerStopsWhileQueueing_CallFailsAndItsQueuedTransfersAreNotCommitted()
    {
        using var directory = new TempDirectory();
        HookedStore? hooked = null;
        var ledger = await StartAsync(directory: directory, wrapStore: inner => hooked = new HookedStore(inner),
            options: new LedgerOptions { BatchTransfersMax = 1, QueueCapacityItems = 2 });
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(3);
        using var committing = new ManualResetEventSlim(false);
        using var release = new ManualResetEventSlim(false);
        hooked!.BeforeCommit = _ =>
        {
            committing.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        };
        // The writer holds transfer 10 in a commit that waits; 20 and 21 fill the queue; 22 waits for room.
        var blocked = ledger.Engine.SubmitAsync([Transfer(10, Id(1), Id(3), 1)]);
        Assert.True(committing.Wait(TimeSpan.FromSeconds(10)));
        var refused = ledger.Engine.SubmitAsync([Transfer(20, Id(1), Id(3), 1), Transfer(21, Id(1), Id(3), 1), Transfer(22, Id(1), Id(3), 1)]);

        var stopping = ledger.Engine.StopAsync();
        var error = await Assert.ThrowsAsync<LedgerUnavailableException>(() => refused);
        release.Set();
        await stopping;
        await blocked;
        await ledger.DisposeAsync();
        await using var reopened = await StartAsync(directory: directory);

        Assert.Empty(await reopened.Engine.GetTransfersAsync([Id(20), Id(21), Id(22)]));
        Assert.Contains("resubmit with the same ids", error.Message, StringComparison.Ordinal);
        Assert.Single(await reopened.Engine.GetTransfersAsync([Id(10)]));
        Assert.True(LedgerChecker.Check(reopened.DatabasePath).Ok);
    }
}
