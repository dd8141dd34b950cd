using System.Diagnostics;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;
using static Bulwark.Ledger.Tests.Support.TestLedger;

namespace Bulwark.Ledger.Tests.Engine;

/// <summary>The writer: batching, failed commits, the invariant guard, back-pressure, stop and restart.</summary>
public sealed class WriterTests
{
    private static async Task<(TestLedger Ledger, HookedStore Store)> StartHookedAsync(LedgerOptions? options = null)
    {
        HookedStore? hooked = null;
        var ledger = await StartAsync(wrapStore: inner => hooked = new HookedStore(inner), options: options);
        await ledger.AccountAsync(1);
        await ledger.AccountAsync(2, AccountFlags.DebitsMustNotExceedCredits);
        await ledger.AccountAsync(3);
        return (ledger, hooked!);
    }

    [Fact]
    public async Task Submit_ManyConcurrentSubmitters_CommittedInFewBatchesHoldingManyTransfers()
    {
        var (ledger, store) = await StartHookedAsync();
        await using var _ = ledger;
        // The first commit waits until every submitter has queued its transfers (SubmitAsync queues
        // before it first yields), so the next batch provably gathers all the rest.
        using var release = new ManualResetEventSlim(false);
        var first = true;
        store.BeforeCommit = _ =>
        {
            if (first)
            {
                first = false;
                release.Wait(TimeSpan.FromSeconds(30));
            }
        };
        var submitters = Enumerable.Range(0, 32).Select(submitter => ledger.Engine.SubmitAsync(
            Enumerable.Range(0, 20).Select(i => Transfer(1_000 + (submitter * 20) + i, Id(1), Id(3), 1)).ToArray())).ToArray();
        release.Set();

        var results = (await Task.WhenAll(submitters)).SelectMany(r => r).ToArray();

        Assert.Equal(640, results.Count(r => r.IsOk && !r.Duplicate));
        // The first batch took whatever had arrived when the writer looked; the second took all
        // the rest, so two batches carried 640 transfers from 32 callers.
        var batches = store.CommitSizes.Where(size => size > 0).ToArray();
        Assert.InRange(batches.Length, 1, 2);
        Assert.True(batches.Max() >= 320, string.Join(",", batches));
        Assert.Equal(640, (await ledger.GetAccountAsync(Id(3))).CreditsPosted);
        Assert.True(LedgerChecker.Check(ledger.DatabasePath).Ok);
    }

    [Fact]
    public async Task Submit_CommitFails_EveryCallerGetsUnavailableAndNothingLingers()
    {
        var (ledger, store) = await StartHookedAsync();
        await using var _ = ledger;
        await ledger.TransferOkAsync(10, Id(1), Id(2), 100);
        store.BeforeCommit = _ => throw new IOException("disk full");

        var error = await Assert.ThrowsAsync<LedgerUnavailableException>(() =>
            ledger.Engine.SubmitAsync([Transfer(11, Id(2), Id(3), 100), Transfer(12, Id(1), Id(2), 5)]));
        store.BeforeCommit = null;
        // Had the failed batch's debit of 100 lingered in the cache, this would exceed credits.
        var retry = await ledger.SubmitAsync(Transfer(13, Id(2), Id(3), 100));

        Assert.IsType<IOException>(error.InnerException);
        Assert.Equal(TransferStatus.Ok, retry.Status);
        Assert.Empty(await ledger.Engine.GetTransfersAsync([Id(11), Id(12)]));
        Assert.Equal(2, retry.Transfer!.Sequence);
        Assert.True(store.Loads >= 2);
        Assert.True(LedgerChecker.Check(ledger.DatabasePath).Ok);
    }

    [Fact]
    public async Task CreateAccounts_CommitFails_AccountNotCreatedAndRetryCreatesIt()
    {
        var (ledger, store) = await StartHookedAsync();
        await using var _ = ledger;
        store.BeforeCommit = _ => throw new IOException("disk full");

        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.AccountAsync(9));
        store.BeforeCommit = null;
        var retry = Assert.Single(await ledger.Engine.CreateAccountsAsync([new LedgerAccount { Id = Id(9), Currency = "GBP", Code = 1 }]));

        Assert.Equal(new LedgerAccountResult(CreateAccountStatus.Ok, false), retry);
    }

    [Fact]
    public async Task Submit_BatchBreaksMoneyInvariant_UnreachableAndNothingWritten()
    {
        var (ledger, store) = await StartHookedAsync();
        await using var _ = ledger;
        // A corrupt cache (as a bug would make it): account 2 has a negative balance. (Owing more
        // than it holds is not corrupt by itself: forced debits may take an account there.)
        store.OnLoadAccounts = accounts => accounts
            .Select(a => a.Id == Id(2) ? a with { DebitsPosted = -500 } : a)
            .ToArray();
        store.BeforeCommit = _ => throw new IOException("force a reload through the corrupt loader");
        await Assert.ThrowsAsync<LedgerUnavailableException>(() => ledger.Engine.SubmitAsync([Transfer(91, Id(1), Id(3), 1)]));
        store.BeforeCommit = null;

        await Assert.ThrowsAsync<UnreachableException>(() => ledger.Engine.SubmitAsync([Transfer(10, Id(1), Id(2), 5)]));

        Assert.Empty(await ledger.Engine.GetTransfersAsync([Id(10)]));
        Assert.Equal(0, (await ledger.GetAccountAsync(Id(2))).CreditsPosted);
    }

    [Fact]
    public async Task Submit_QueueFull_SubmitterWaitsAndHonoursCancellation()
    {
        var (ledger, store) = await StartHookedAsync(new LedgerOptions { QueueCapacityItems = 4, BatchTransfersMax = 4 });
        await using var _ = ledger;
        using var release = new ManualResetEventSlim(false);
        store.BeforeCommit = _ => release.Wait(TimeSpan.FromSeconds(30));
        var blocked = ledger.Engine.SubmitAsync(Enumerable.Range(0, 4).Select(i => Transfer(100 + i, Id(1), Id(3), 1)).ToArray());
        var filling = ledger.Engine.SubmitAsync(Enumerable.Range(0, 4).Select(i => Transfer(200 + i, Id(1), Id(3), 1)).ToArray());
        using var cancel = new CancellationTokenSource();

        var waiting = ledger.Engine.SubmitAsync(Enumerable.Range(0, 4).Select(i => Transfer(300 + i, Id(1), Id(3), 1)).ToArray(), cancel.Token);
        await Task.Delay(50);
        var stillWaiting = !waiting.IsCompleted;
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.Set();
        Assert.True(stillWaiting);
        Assert.All(await blocked, r => Assert.True(r.IsOk));
        Assert.All(await filling, r => Assert.True(r.IsOk));
    }

    [Fact]
    public async Task Stop_WithQueuedWork_DrainsItBeforeClosing()
    {
        var (ledger, store) = await StartHookedAsync(new LedgerOptions { BatchTransfersMax = 10 });
        using var release = new ManualResetEventSlim(false);
        store.BeforeCommit = _ => release.Wait(TimeSpan.FromSeconds(30));
        var submissions = Enumerable.Range(0, 10)
            .Select(s => ledger.Engine.SubmitAsync(Enumerable.Range(0, 10).Select(i => Transfer(1_000 + (s * 10) + i, Id(1), Id(3), 1)).ToArray()))
            .ToArray();

        var stopping = ledger.Engine.StopAsync();
        release.Set();
        await stopping;
        var results = (await Task.WhenAll(submissions)).SelectMany(r => r).ToArray();
        await ledger.DisposeAsync();

        Assert.Equal(100, results.Count(r => r.IsOk));
    }

    [Fact]
    public async Task Start_WithAnotherPartitionCount_Refused()
    {
        using var directory = new TempDirectory();
        await using (await StartAsync(directory: directory))
        {
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(directory: directory, options: new LedgerOptions { PartitionCount = 16 }));
    }

    [Fact]
    public async Task Restart_CommittedStateAndIdempotencySurvive()
    {
        using var directory = new TempDirectory();
        LedgerTransferResult first;
        await using (var before = await StartAsync(directory: directory))
        {
            await before.AccountAsync(1);
            await before.AccountAsync(2, AccountFlags.DebitsMustNotExceedCredits);
            first = await before.SubmitAsync(Transfer(10, Id(1), Id(2), 100));
            await before.TransferOkAsync(11, Id(2), Id(1), 60, TransferFlags.Pending);
        }
        await using var after = await StartAsync(directory: directory);

        var retry = await after.SubmitAsync(Transfer(10, Id(1), Id(2), 100));
        var overLimit = await after.SubmitAsync(Transfer(12, Id(2), Id(1), 41));
        var post = await after.SubmitAsync(Post(13, 11));

        Assert.True(retry.Duplicate);
        Assert.Equal(first.Transfer, retry.Transfer);
        Assert.Equal(TransferStatus.ExceedsCredits, overLimit.Status);
        Assert.Equal(TransferStatus.Ok, post.Status);
    }

    [Fact]
    public void Options_Invalid_RefusedAtConstruction()
    {
        Assert.Throws<ArgumentException>(() => LedgerEngine.CreateSqlite(new LedgerOptions()));
        Assert.Throws<ArgumentException>(() => LedgerEngine.CreateSqlite(new LedgerOptions { DatabasePath = "x.db", PartitionCount = 0 }));
        Assert.Throws<ArgumentException>(() => LedgerEngine.CreateSqlite(new LedgerOptions { DatabasePath = "x.db", BatchTransfersMax = LedgerLimits.BatchTransfersMax + 1 }));
        Assert.Throws<ArgumentException>(() => LedgerEngine.CreateSqlite(new LedgerOptions { DatabasePath = "x.db", QueueCapacityItems = 0 }));
    }

    [Fact]
    public void Partitioner_SameIdAlwaysSamePartition_AndSpreadsSequentialIds()
    {
        var partitions = Enumerable.Range(1, 25_600).Select(i => LedgerPartitioner.PartitionOf((UInt128)i, 256)).ToArray();

        Assert.Equal(LedgerPartitioner.PartitionOf(12_345, 256), LedgerPartitioner.PartitionOf(12_345, 256));
        Assert.All(partitions, p => Assert.InRange(p, 0, 255));
        Assert.True(partitions.GroupBy(p => p).Max(g => g.Count()) < 200, "no partition gets twice its share");
        Assert.Equal(256, partitions.Distinct().Count());
    }
}
