using System.Collections.Concurrent;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// Moving a partition between real cells while payments, holds and reads flow through the router,
/// as every service sends them: nothing acknowledged is lost or doubled, no read of a known
/// account comes back "missing", balances equal what the acknowledged payments imply, and the
/// checker finds every cell and the legs between them whole.
/// </summary>
public sealed class PartitionMoveTests
{
    private const long Funding = 1_000_000;

    [Fact]
    public async Task Move_WhilePaymentsHoldsAndReadsFlow_NothingLostOrDoubled_NoFalseNotFound_BalancesAsAcknowledged()
    {
        await using var bank = await MovingBank.StartAsync(["a", "b"]);
        var bankAccount = bank.AccountsIn("a").First();
        var partition = LedgerPartitioner.PartitionOf(bank.AccountsIn("a").Skip(1).First(), MovingBank.Partitions);
        var moving = bank.AccountsIn("a").Where(id => LedgerPartitioner.PartitionOf(id, MovingBank.Partitions) == partition).Take(6).ToArray();
        var stayingA = bank.AccountsIn("a").Where(id => LedgerPartitioner.PartitionOf(id, MovingBank.Partitions) != partition && id != bankAccount).Take(6).ToArray();
        var inB = bank.AccountsIn("b").Take(6).ToArray();
        var customers = moving.Concat(stayingA).Concat(inB).ToArray();
        await CreateAsync(bank, [bankAccount], AccountFlags.None);
        await CreateAsync(bank, customers, AccountFlags.DebitsMustNotExceedCredits);
        var model = new Model();
        long nextId = 1;
        foreach (var customer in customers)
        {
            await PayAsync(bank, model, new Transfer { Id = ((UInt128)nextId++).ToProto(), DebitAccountId = bankAccount.ToProto(), CreditAccountId = customer.ToProto(), Amount = Funding, Currency = "GBP", Code = 1 });
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var moved = new TaskCompletionSource();
        var workers = Enumerable.Range(0, 3).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            // Bounded: a fixed number of payments, and never past the token.
            for (var i = 0; i < 400 && !stop.IsCancellationRequested; i++)
            {
                var from = customers[random.Next(customers.Length)];
                var to = customers[random.Next(customers.Length)];
                if (from == to)
                {
                    continue;
                }
                var amount = random.Next(1, 50);
                var id = (UInt128)Interlocked.Increment(ref nextId) + 1_000_000;
                if (random.Next(4) == 0)
                {
                    var hold = new Transfer { Id = id.ToProto(), DebitAccountId = from.ToProto(), CreditAccountId = to.ToProto(), Amount = amount, Currency = "GBP", Code = 2, Flags = (uint)TransferFlags.Pending, TimeoutSeconds = 3600 };
                    if (await PayAsync(bank, model, hold, countsAsMoney: false) == TransferStatus.Ok)
                    {
                        var post = new Transfer { Id = (id + 5_000_000).ToProto(), PendingId = id.ToProto(), DebitAccountId = from.ToProto(), CreditAccountId = to.ToProto(), Amount = amount - 1, Currency = "GBP", Code = 2, Flags = (uint)TransferFlags.PostPending };
                        Assert.Equal(TransferStatus.Ok, await PayAsync(bank, model, post));
                    }
                }
                else
                {
                    await PayAsync(bank, model, new Transfer { Id = id.ToProto(), DebitAccountId = from.ToProto(), CreditAccountId = to.ToProto(), Amount = amount, Currency = "GBP", Code = 2 });
                }
                if (i == 30 && worker == 0)
                {
                    moved.TrySetResult();
                }
            }
        })).ToArray();
        var reader = Task.Run(async () =>
        {
            for (var round = 0; round < 2_000 && !workers.All(worker => worker.IsCompleted); round++)
            {
                try
                {
                    var answer = await bank.Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { customers.Select(id => id.ToProto()) } });
                    model.FalseNotFounds += answer.Missing.Count;
                    model.Reads++;
                }
                catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable)
                {
                    model.RetriableReads++;
                }
            }
        });

        await moved.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var reports = new ConcurrentQueue<PartitionMoveReport>();
        var result = await bank.Mover().MoveAsync(partition, "b", new SyncProgress<PartitionMoveReport>(reports.Enqueue));
        await Task.WhenAll(workers);
        await reader;

        Assert.False(result.AlreadyThere);
        Assert.Equal(("a", "b", 2L), (result.Source, result.Target, result.NewEpoch));
        Assert.Contains(reports, report => report.Step == "released");
        Assert.Equal(0, model.FalseNotFounds);
        Assert.True(model.Reads > 0);
        var map = (await bank.Placement.ReadAsync(CancellationToken.None))!.Map!;
        Assert.Equal(("b", 2L), (map.CellOf(partition), map.EpochOf(partition)));
        Assert.Equal((OwnershipState.Released, "b", 2L), (bank.Cell("a").Ownership[partition].State, bank.Cell("a").Ownership[partition].OwnerCell, bank.Cell("a").Ownership[partition].OwnerEpoch));
        Assert.Equal((OwnershipState.Owned, 2L), (bank.Cell("b").Ownership[partition].State, bank.Cell("b").Ownership[partition].Epoch));

        // Every acknowledged payment is there, once: found by id through the router.
        foreach (var chunk in model.Acknowledged.Keys.Chunk(1_000))
        {
            var found = await bank.Ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { chunk.Select(id => id.ToProto()) } });
            Assert.Empty(found.Missing);
            Assert.Equal(chunk.Length, found.Transfers.Count);
        }
        // Balances are what the acknowledged payments say, once every credit leg is delivered.
        await WaitForCreditLegsAsync(bank);
        var balances = await bank.Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { customers.Select(id => id.ToProto()) } });
        Assert.Empty(balances.Missing);
        foreach (var account in balances.Accounts)
        {
            var id = account.Id.ToUInt128();
            Assert.Equal(model.Expected(id), account.CreditsPosted - account.DebitsPosted);
            Assert.Equal(0, account.DebitsPending);
        }
        // A moved account's history holds every one of its payments (the feed is never empty).
        var history = await bank.Ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = moving[0].ToProto(), Limit = 200 });
        var shown = history.Transfers.Select(row => row.Id.ToUInt128()).ToArray();
        Assert.Equal(shown.Length, shown.Distinct().Count());
        Assert.Empty(model.MoneyOf(moving[0]).Except(shown));
        // The old owner's copy was deleted after the flip.
        Assert.Empty(await bank.Cell("a").GetAccountsAsync(moving));
        Assert.Empty((await bank.Admin("a").GetCellStatusAsync(new GetCellStatusRequest(), MovingBank.CellHeader("a"))).Imports);

        var report = await bank.StopAndCheckAsync();
        Assert.True(report.Ok, string.Join("\n", report.Problems));
        Assert.Equal(customers.Length + 1, report.AccountCount);
    }

    private static async Task CreateAsync(MovingBank bank, IReadOnlyList<UInt128> ids, AccountFlags flags)
    {
        var created = await bank.Ledger.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts = { ids.Select(id => new Account { Id = id.ToProto(), Currency = "GBP", Code = 1, Flags = (uint)flags }) },
        });
        Assert.All(created.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
    }

    /// <summary>Submits one transfer, retrying the same id on a retriable answer; records it in the model once acknowledged.</summary>
    private static async Task<TransferStatus> PayAsync(MovingBank bank, Model model, Transfer transfer, bool countsAsMoney = true)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var answer = await bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { transfer } });
                var status = answer.Results[0].Status;
                if (status == TransferStatus.Ok)
                {
                    model.Acknowledge(transfer, countsAsMoney);
                }
                return status;
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable && attempt < 20)
            {
                Interlocked.Increment(ref model.RetriedWrites);
                await Task.Delay(50);
            }
        }
    }

    private static async Task WaitForCreditLegsAsync(MovingBank bank)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var owed = 0;
            foreach (var engine in bank.Cells.Engines)
            {
                owed += (await engine.GetOwedCreditLegsAsync(10)).Count(leg => engine.Ownership.Serves(leg.Partition));
            }
            if (owed == 0)
            {
                return;
            }
            await Task.Delay(50);
        }
        Assert.Fail("Credit legs were still owed after 10 s.");
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>What the test was told: acknowledged transfers and the balances they imply.</summary>
    private sealed class Model
    {
        private readonly ConcurrentDictionary<UInt128, long> _net = new();
        private readonly ConcurrentDictionary<UInt128, ConcurrentBag<UInt128>> _money = new();

        public long RetriedWrites;

        public ConcurrentDictionary<UInt128, long> Acknowledged { get; } = new();

        public int FalseNotFounds { get; set; }

        public int Reads { get; set; }

        public int RetriableReads { get; set; }

        public void Acknowledge(Transfer transfer, bool countsAsMoney)
        {
            var id = transfer.Id.ToUInt128();
            Assert.True(Acknowledged.TryAdd(id, transfer.Amount), $"transfer {id} acknowledged twice");
            var debit = transfer.DebitAccountId.ToUInt128();
            var credit = transfer.CreditAccountId.ToUInt128();
            if (countsAsMoney)
            {
                _money.GetOrAdd(debit, _ => []).Add(id);
                _money.GetOrAdd(credit, _ => []).Add(id);
                _net.AddOrUpdate(debit, -transfer.Amount, (_, net) => net - transfer.Amount);
                _net.AddOrUpdate(credit, transfer.Amount, (_, net) => net + transfer.Amount);
            }
        }

        public long Expected(UInt128 account) => _net.GetValueOrDefault(account);

        /// <summary>The acknowledged payments (and posts) the account was debited or credited by.</summary>
        public IReadOnlyCollection<UInt128> MoneyOf(UInt128 account) => _money.TryGetValue(account, out var ids) ? ids.ToArray() : [];
    }
}
