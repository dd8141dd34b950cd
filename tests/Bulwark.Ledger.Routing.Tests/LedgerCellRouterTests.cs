using System.Diagnostics;
using Bulwark.Ledger.Protos;
using Bulwark.Platform.Placement;
using Grpc.Core;

namespace Bulwark.Ledger.Routing.Tests;

public sealed class LedgerCellRouterTests
{
    private const int Count = CellCluster.PartitionCount;

    private static DateTime Deadline(double seconds = 10) => DateTime.UtcNow.AddSeconds(seconds);

    private static Account AccountIn(int partition, int nth = 1) => new() { Id = Ids.In(partition, Count, nth), Currency = "GBP" };

    [Fact]
    public async Task CreateAccounts_ManyIds_EachSentStraightToItsLedgerPartitionsOwner()
    {
        // The router's partitioner is a copy of the ledger's: if they disagreed, the fake cells
        // (which place ids with the ledger's LedgerPartitioner) would refuse.
        await using var cluster = await CellCluster.StartAsync(["a", "b", "c"]);
        var random = new Random(12);
        var accounts = Enumerable.Range(0, 500).Select(_ => new Account
        {
            Id = new Uint128 { High = (ulong)random.NextInt64(), Low = (ulong)random.NextInt64() },
            Currency = "GBP",
        }).ToList();

        var response = await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { accounts } }, deadline: Deadline());

        Assert.All(response.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
        Assert.Equal(0, cluster["a"].Refusals + cluster["b"].Refusals + cluster["c"].Refusals);
        Assert.All(new[] { "a", "b", "c" }, cell => Assert.Single(cluster[cell].Calls));
    }

    [Fact]
    public async Task CreateAccounts_SplitOverCells_ResultsInRequestOrder_EachPartNamesItsPartitionsAndEpochs()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        // Partitions 0-3 are a's, 4-7 b's. Some accounts exist already: their results say duplicate.
        await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(5), AccountIn(1) } }, deadline: Deadline());
        var accounts = new[] { AccountIn(0), AccountIn(5), AccountIn(6), AccountIn(1), AccountIn(2, 2) };

        var response = await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { accounts } }, deadline: Deadline());

        Assert.Equal([false, true, false, true, false], response.Results.Select(result => result.Duplicate));
        Assert.Empty(response.Refusals);
        var partA = cluster["a"].Calls.Last();
        var partB = cluster["b"].Calls.Last();
        Assert.Equal(3, partA.Items);
        Assert.Equal([(0, 1L), (1, 1L), (2, 1L)], partA.Placement);
        Assert.Equal([(5, 1L), (6, 1L)], partB.Placement);
    }

    [Fact]
    public async Task GetAccounts_FoundAndMissing_MergedInRequestOrder()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(7), AccountIn(0) } }, deadline: Deadline());

        var response = await cluster.Client.GetAccountsAsync(new GetAccountsRequest { Ids = { Ids.In(0, Count), Ids.In(3, Count), Ids.In(7, Count), Ids.In(4, Count) } }, deadline: Deadline());

        Assert.Equal([Ids.In(0, Count), Ids.In(7, Count)], response.Accounts.Select(account => account.Id));
        Assert.Equal([Ids.In(3, Count), Ids.In(4, Count)], response.Missing);
        Assert.Empty(response.Refused);
    }

    [Fact]
    public async Task SubmitTransfers_ByDebitAccount_ResultsInRequestOrder()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        var transfers = new[]
        {
            new Transfer { Id = Ids.From(101), DebitAccountId = Ids.In(6, Count), CreditAccountId = Ids.In(0, Count), Amount = 1 },
            new Transfer { Id = Ids.From(102), DebitAccountId = Ids.In(1, Count), CreditAccountId = Ids.In(6, Count), Amount = 2 },
            new Transfer { Id = Ids.From(103), DebitAccountId = Ids.In(4, Count), CreditAccountId = Ids.In(0, Count), Amount = 3 },
        };

        var response = await cluster.Client.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { transfers }, IdNamespace = IdNamespace.Bank }, deadline: Deadline());

        Assert.Equal([1L, 2L, 3L], response.Results.Select(result => result.Transfer.Amount));
        Assert.Equal(2, cluster["b"].Calls.Single().Items);
        Assert.Equal(1, cluster["a"].Calls.Single().Items);
    }

    [Fact]
    public async Task SubmitTransfers_PostWithoutDebitAccount_GoesWhereTheHoldIs()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster["b"].Put(new Transfer { Id = Ids.From(500), DebitAccountId = Ids.In(5, Count), CreditAccountId = Ids.In(0, Count), Amount = 10, Flags = (uint)TransferFlags.Pending });
        var post = new Transfer { Id = Ids.From(501), PendingId = Ids.From(500), Flags = (uint)TransferFlags.PostPending };

        var response = await cluster.Client.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { post } }, deadline: Deadline());

        Assert.Equal(TransferStatus.Ok, response.Results.Single().Status);
        Assert.Contains(cluster["b"].Calls, call => call.Method == "SubmitTransfers");
        Assert.DoesNotContain(cluster["a"].Calls, call => call.Method == "SubmitTransfers");
    }

    [Fact]
    public async Task SubmitTransfers_VoidOfAHoldNoCellHas_PendingTransferNotFound_AndTheOthersStillGo()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        var transfers = new[]
        {
            new Transfer { Id = Ids.From(601), PendingId = Ids.From(600), Flags = (uint)TransferFlags.VoidPending },
            new Transfer { Id = Ids.From(602), DebitAccountId = Ids.In(5, Count), CreditAccountId = Ids.In(0, Count), Amount = 4 },
        };

        var response = await cluster.Client.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { transfers } }, deadline: Deadline());

        // No cell holds the hold (every partition answered for): "not found", as one ledger said it,
        // instead of the refusal a cell that serves only some partitions must give (it cannot tell).
        Assert.Equal([TransferStatus.PendingTransferNotFound, TransferStatus.Ok], response.Results.Select(result => result.Status));
        Assert.Equal(1, cluster["b"].Calls.Count(call => call.Method == "SubmitTransfers"));
        Assert.DoesNotContain(cluster["a"].Calls, call => call.Method == "SubmitTransfers");
    }

    [Fact]
    public async Task ApplyCreditLegs_ByCreditAccount()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        var legs = new[]
        {
            new Transfer { Id = Ids.From(900), DebitAccountId = Ids.In(0, Count), CreditAccountId = Ids.In(6, Count), Amount = 1, Leg = TransferLeg.Credit },
            new Transfer { Id = Ids.From(901), DebitAccountId = Ids.In(6, Count), CreditAccountId = Ids.In(2, Count), Amount = 1, Leg = TransferLeg.Credit },
        };

        var response = await cluster.Client.ApplyCreditLegsAsync(new ApplyCreditLegsRequest { Legs = { legs }, FromCell = "a" }, deadline: Deadline());

        Assert.All(response.Results, result => Assert.Equal(TransferStatus.Ok, result.Status));
        Assert.Equal([(6, 1L)], cluster["b"].Calls.Single().Placement);
        Assert.Equal([(2, 1L)], cluster["a"].Calls.Single().Placement);
    }

    [Fact]
    public async Task WrongOwner_MapInTheStoreMovedOn_RefreshedAndResentToTheNewOwner()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster.MoveCells(2, from: "a", to: "b");
        cluster.Store.Put(cluster.View.Current!.WithMove(2, "b"));
        // The router's view still has version 1: it learns of version 2 from the refusal.
        Assert.Equal(1, cluster.View.Current!.Version);

        var response = await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(2), AccountIn(0) } }, deadline: Deadline());

        Assert.All(response.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
        Assert.Equal(2, cluster.View.Current!.Version);
        Assert.Equal(1, cluster["a"].Refusals);
        Assert.Equal([(2, 2L)], cluster["b"].Calls.Single().Placement);
        // Only the refused account was sent again.
        Assert.Equal([2, 1], cluster["a"].Calls.Select(call => call.Items).Concat(cluster["b"].Calls.Select(call => call.Items)));
        Assert.Equal(1, cluster.Measurements["ledger_router_refusals/a/not_owner"]);
        Assert.Equal(1, cluster.Measurements["ledger_router_retries/CreateAccounts"]);
    }

    [Fact]
    public async Task WrongOwner_MapNotYetChanged_NewerOwnerTheCellNamesIsUsed()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster.MoveCells(3, from: "a", to: "b");

        var response = await cluster.Client.GetAccountsAsync(new GetAccountsRequest { Ids = { Ids.In(3, Count) } }, deadline: Deadline());

        Assert.Equal([Ids.In(3, Count)], response.Missing);
        Assert.Equal([(3, 2L)], cluster["b"].Calls.Single().Placement);
        Assert.Equal(1, cluster.View.Current!.Version);
    }

    [Fact]
    public async Task Moving_ThenServed_AnsweredAfterPauses()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        var refusals = 0;
        cluster["a"].RefuseFirst = partition => partition == 1 && Interlocked.Increment(ref refusals) <= 2 ? RefusalReason.Moving : null;
        var clock = Stopwatch.StartNew();

        var response = await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(1) } }, deadline: Deadline());

        Assert.Equal(CreateAccountStatus.Ok, response.Results.Single().Status);
        Assert.Equal(3, cluster["a"].Calls.Count);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(55), $"answered after {clock.Elapsed}: no pause between rounds");
        Assert.Equal(2, cluster.Measurements["ledger_router_refusals/a/moving"]);
    }

    [Fact]
    public async Task NeverStopsRefusing_UnavailableNamingThePartition_BeforeTheDeadline_NeverNotFound()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster["a"].Owned.TryRemove(1, out _);
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await cluster.Client.GetAccountsAsync(new GetAccountsRequest { Ids = { Ids.In(1, Count), Ids.In(5, Count) } }, deadline: Deadline(5)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("partition 1", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("'a' does not own it", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("retrying with the same ids is safe", error.Status.Detail, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"gave up after {clock.Elapsed}");
        Assert.Equal(new LedgerRouterLimits().RoundsMax, cluster["a"].Calls.Count);
    }

    [Fact]
    public async Task MovingForever_ShortDeadline_UnavailableWithinTheDeadline()
    {
        await using var cluster = await CellCluster.StartAsync(["a"], new LedgerRouterLimits { RoundsMax = 1000 });
        cluster["a"].RefuseFirst = _ => RefusalReason.Moving;
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(3) } }, deadline: Deadline(1)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("moving", error.Status.Detail, StringComparison.Ordinal);
        // Gives up at the caller's deadline, not after its 1,000 rounds of backing off (minutes): the
        // bound leaves a loaded machine room (a full run once answered in 1.02 s).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"gave up after {clock.Elapsed}");
    }

    [Fact]
    public async Task HungCell_DeadlineExceeded_NoHang()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster["b"].Hung = true;
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(0), AccountIn(6) } }, deadline: Deadline(1)));

        Assert.True(error.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable, error.Status.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"answered after {clock.Elapsed}");
    }

    [Fact]
    public async Task CallerCancels_WhileMoving_CancelledStatus()
    {
        await using var cluster = await CellCluster.StartAsync(["a"], new LedgerRouterLimits { RoundsMax = 1000 });
        cluster["a"].RefuseFirst = _ => RefusalReason.Moving;
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(3) } }, deadline: Deadline(), cancellationToken: cancel.Token));

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
    }

    [Fact]
    public async Task GetTransfers_FoundInAnyCell_MissingOnlyOnceEveryPartitionWasAnswered()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster["b"].Put(new Transfer { Id = Ids.From(77), DebitAccountId = Ids.In(4, Count), CreditAccountId = Ids.In(0, Count), Amount = 5 });
        // Partition 7 is answered by nobody in the first round (as while it moves), then by b.
        cluster["b"].Unanswered[7] = true;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answering = Task.Run(async () =>
        {
            while (cluster["b"].Calls.Count(call => call.Method == "GetTransfers") < 1)
            {
                await Task.Delay(5, bound.Token);
            }
            cluster["b"].Unanswered.Clear();
        }, bound.Token);

        var response = await cluster.Client.GetTransfersAsync(new GetTransfersRequest { Ids = { Ids.From(78), Ids.From(77) } }, deadline: Deadline());
        await answering;

        Assert.Equal([Ids.From(77)], response.Transfers.Select(transfer => transfer.Id));
        Assert.Equal([Ids.From(78)], response.Missing);
        Assert.True(cluster["b"].Calls.Count(call => call.Method == "GetTransfers") >= 2);
    }

    [Fact]
    public async Task GetTransfers_APartitionNeverAnswered_UnavailableNotMissing()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster["a"].Unanswered[2] = true;

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await cluster.Client.GetTransfersAsync(new GetTransfersRequest { Ids = { Ids.From(78) } }, deadline: Deadline(5)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("partition 2", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListAccountTransfers_AbortedWithRefusal_RefreshedAndServedByTheOwner()
    {
        await using var cluster = await CellCluster.StartAsync(["a", "b"]);
        cluster["b"].Put(new Transfer { Id = Ids.From(60), DebitAccountId = Ids.In(5, Count), CreditAccountId = Ids.In(0, Count), Amount = 5 });
        cluster.MoveCells(5, from: "b", to: "a");
        cluster["a"].Put(new Transfer { Id = Ids.From(60), DebitAccountId = Ids.In(5, Count), CreditAccountId = Ids.In(0, Count), Amount = 5 });
        cluster["b"].HandedTo.Clear();
        cluster.Store.Put(cluster.View.Current!.WithMove(5, "a"));

        var response = await cluster.Client.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = Ids.In(5, Count) }, deadline: Deadline());

        Assert.Equal([Ids.From(60)], response.Transfers.Select(transfer => transfer.Id));
        Assert.Equal(1, cluster["b"].Refusals);
        Assert.Equal([(5, 2L)], cluster["a"].Calls.Single().Placement);
    }

    [Fact]
    public async Task OneCell_EveryMethodWorks()
    {
        await using var cluster = await CellCluster.StartAsync(["solo"]);

        await cluster.Client.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { AccountIn(0), AccountIn(7) } }, deadline: Deadline());
        var submitted = await cluster.Client.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            Transfers = { new Transfer { Id = Ids.From(1), DebitAccountId = Ids.In(0, Count), CreditAccountId = Ids.In(7, Count), Amount = 3 } },
        }, deadline: Deadline());
        var accounts = await cluster.Client.GetAccountsAsync(new GetAccountsRequest { Ids = { Ids.In(0, Count), Ids.In(7, Count) } }, deadline: Deadline());
        var transfers = await cluster.Client.GetTransfersAsync(new GetTransfersRequest { Ids = { Ids.From(1) } }, deadline: Deadline());
        var listed = await cluster.Client.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = Ids.In(7, Count) }, deadline: Deadline());

        Assert.Equal(TransferStatus.Ok, submitted.Results.Single().Status);
        Assert.Equal(2, accounts.Accounts.Count);
        Assert.Single(transfers.Transfers);
        Assert.Single(listed.Transfers);
        Assert.Equal(0, cluster["solo"].Refusals);
    }

    [Fact]
    public async Task NoMapLoaded_UnavailableSayingSo()
    {
        await using var cluster = await CellCluster.StartAsync(["a"], loadMap: false);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await cluster.Client.GetAccountsAsync(new GetAccountsRequest { Ids = { Ids.In(0, Count) } }, deadline: Deadline()));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("placement map not loaded", error.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(cluster["a"].Calls);
    }
}
