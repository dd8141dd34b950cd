using System.Collections.Concurrent;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Ledger.Routing.Tests;

/// <summary>
/// Customer traffic through the router while a move runs, and the checker of what it saw: payments
/// between customers in the moving partition, elsewhere in its cell and in the other cell (a
/// quarter of them holds, each posted for a little less), and reads of every customer's account.
/// A payment is acknowledged only on OK (retried with the same id on a retriable answer).
/// <see cref="CheckAsync"/> lists every failure: a read that said "missing" for a known account
/// (a false not-found), an acknowledged payment not found, an account whose balance is not what
/// its acknowledged payments make it, a moved account's history without its payments.
/// </summary>
public sealed class MoveLoad
{
    private const long Funding = 1_000_000;

    private readonly MovingBank _bank;
    private long _nextId;

    private MoveLoad(MovingBank bank, int partition, UInt128 bankAccount, UInt128[] moving, UInt128[] customers)
    {
        _bank = bank;
        Partition = partition;
        BankAccount = bankAccount;
        Moving = moving;
        Customers = customers;
    }

    public int Partition { get; }

    public UInt128 BankAccount { get; }

    /// <summary>Customers in the partition that moves.</summary>
    public IReadOnlyList<UInt128> Moving { get; }

    public IReadOnlyList<UInt128> Customers { get; }

    public Model Model { get; } = new();

    /// <summary>Creates the bank's account and 18 customers (6 in one partition of cell a, the one to move), each funded.</summary>
    public static async Task<MoveLoad> PrepareAsync(MovingBank bank)
    {
        var bankAccount = bank.AccountsIn("a").First();
        var partition = LedgerPartitioner.PartitionOf(bank.AccountsIn("a").Skip(1).First(), MovingBank.Partitions);
        var moving = bank.AccountsIn("a").Where(id => LedgerPartitioner.PartitionOf(id, MovingBank.Partitions) == partition).Take(6).ToArray();
        var stayingA = bank.AccountsIn("a").Where(id => LedgerPartitioner.PartitionOf(id, MovingBank.Partitions) != partition && id != bankAccount).Take(6).ToArray();
        var inB = bank.AccountsIn("b").Take(6).ToArray();
        var load = new MoveLoad(bank, partition, bankAccount, moving, moving.Concat(stayingA).Concat(inB).ToArray());
        await load.CreateAsync([bankAccount], AccountFlags.None);
        await load.CreateAsync(load.Customers, AccountFlags.DebitsMustNotExceedCredits);
        foreach (var customer in load.Customers)
        {
            var funding = new Transfer { Id = load.NextId().ToProto(), DebitAccountId = bankAccount.ToProto(), CreditAccountId = customer.ToProto(), Amount = Funding, Currency = "GBP", Code = 1 };
            Assert.Equal(TransferStatus.Ok, await load.PayAsync(funding));
        }
        return load;
    }

    /// <summary>Three payers and a reader; <paramref name="move"/> starts once payments flow, and the traffic goes on past it. Bounded in count and time.</summary>
    public async Task RunAsync(Func<Task> move)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var flowing = new TaskCompletionSource();
        var moved = 0;
        var payers = Enumerable.Range(0, 3).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            // At least 400 payments each, and on until the move is done: bounded in count and time.
            for (var i = 0; (i < 400 || Volatile.Read(ref moved) == 0) && i < 50_000 && !stop.IsCancellationRequested; i++)
            {
                var from = Customers[random.Next(Customers.Count)];
                var to = Customers[random.Next(Customers.Count)];
                if (i == 30 && worker == 0)
                {
                    flowing.TrySetResult();
                }
                if (from == to)
                {
                    continue;
                }
                var amount = random.Next(2, 50);
                var id = NextId();
                if (random.Next(4) == 0)
                {
                    var hold = new Transfer { Id = id.ToProto(), DebitAccountId = from.ToProto(), CreditAccountId = to.ToProto(), Amount = amount, Currency = "GBP", Code = 2, Flags = (uint)TransferFlags.Pending, TimeoutSeconds = 3600 };
                    if (await PayAsync(hold, countsAsMoney: false) == TransferStatus.Ok)
                    {
                        var post = new Transfer { Id = NextId().ToProto(), PendingId = id.ToProto(), DebitAccountId = from.ToProto(), CreditAccountId = to.ToProto(), Amount = amount - 1, Currency = "GBP", Code = 2, Flags = (uint)TransferFlags.PostPending };
                        await PayAsync(post);
                    }
                }
                else
                {
                    await PayAsync(new Transfer { Id = id.ToProto(), DebitAccountId = from.ToProto(), CreditAccountId = to.ToProto(), Amount = amount, Currency = "GBP", Code = 2 });
                }
            }
            flowing.TrySetResult();
        })).ToArray();
        var reader = Task.Run(async () =>
        {
            for (var round = 0; round < 5_000 && !payers.All(payer => payer.IsCompleted); round++)
            {
                try
                {
                    var answer = await _bank.Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { Customers.Select(id => id.ToProto()) } });
                    Model.FalseNotFounds += answer.Missing.Count;
                    Model.Reads++;
                }
                catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable)
                {
                    Model.RetriableReads++;
                }
            }
        });
        await flowing.Task.WaitAsync(TimeSpan.FromSeconds(30));
        try
        {
            await move();
        }
        finally
        {
            Volatile.Write(ref moved, 1);
        }
        await Task.WhenAll(payers);
        await reader;
    }

    /// <summary>Every failure the traffic and the ledger show; empty when the move was right.</summary>
    public async Task<IReadOnlyList<string>> CheckAsync()
    {
        var failures = new List<string>();
        // A run in which nothing was paid proves nothing.
        Assert.True(Model.Acknowledged.Count > 300, $"only {Model.Acknowledged.Count} payments were acknowledged");
        if (Model.FalseNotFounds > 0)
        {
            failures.Add($"false not-found: {Model.FalseNotFounds} reads of known accounts answered missing");
        }
        foreach (var chunk in Model.Acknowledged.Keys.Chunk(1_000))
        {
            var found = await _bank.Ledger.GetTransfersAsync(new GetTransfersRequest { Ids = { chunk.Select(id => id.ToProto()) } });
            if (found.Missing.Count > 0)
            {
                failures.Add($"lost write: {found.Missing.Count} acknowledged transfers not found");
            }
        }
        if (!await WaitForCreditLegsAsync())
        {
            failures.Add("credit legs still owed after 10 s");
        }
        var balances = await _bank.Ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { Customers.Select(id => id.ToProto()) } });
        if (balances.Missing.Count > 0)
        {
            failures.Add($"missing account: {balances.Missing.Count} known accounts answered missing at the end");
        }
        foreach (var account in balances.Accounts)
        {
            var id = account.Id.ToUInt128();
            if (Model.Expected(id) != account.CreditsPosted - account.DebitsPosted || account.DebitsPending != 0)
            {
                failures.Add($"balance of {id}: {account.CreditsPosted - account.DebitsPosted} posted ({account.DebitsPending} pending), the acknowledged payments make it {Model.Expected(id)}");
            }
        }
        try
        {
            var shownList = new List<UInt128>();
            var cursor = "";
            for (var page = 0; page < 1_000; page++)
            {
                var history = await _bank.Ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = Moving[0].ToProto(), Limit = 200, Cursor = cursor });
                shownList.AddRange(history.Transfers.Select(row => row.Id.ToUInt128()));
                cursor = history.NextCursor;
                if (cursor.Length == 0)
                {
                    break;
                }
            }
            var shown = shownList.ToArray();
            if (shown.Length != shown.Distinct().Count())
            {
                failures.Add("history shows a payment twice");
            }
            if (Model.MoneyOf(Moving[0]).Except(shown).Any())
            {
                failures.Add($"history of a moved account lacks {Model.MoneyOf(Moving[0]).Except(shown).Count()} of its payments");
            }
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            failures.Add("missing account: the history of a moved account was answered not found");
        }
        return failures;
    }

    private UInt128 NextId() => Uint128.InNamespace(IdNamespace.Bank, (UInt128)Interlocked.Increment(ref _nextId));

    private async Task CreateAsync(IReadOnlyList<UInt128> ids, AccountFlags flags)
    {
        var created = await _bank.Ledger.CreateAccountsAsync(new CreateAccountsRequest
        {
            Accounts = { ids.Select(id => new Account { Id = id.ToProto(), Currency = "GBP", Code = 1, Flags = (uint)flags }) },
        });
        Assert.All(created.Results, result => Assert.Equal(CreateAccountStatus.Ok, result.Status));
    }

    /// <summary>Submits one transfer, retrying the same id on a retriable answer; records it in the model once acknowledged.</summary>
    private async Task<TransferStatus> PayAsync(Transfer transfer, bool countsAsMoney = true)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var answer = await _bank.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest { Transfers = { transfer }, IdNamespace = IdNamespace.Bank });
                var status = answer.Results[0].Status;
                if (status == TransferStatus.Ok)
                {
                    Model.Acknowledge(transfer, countsAsMoney);
                }
                return status;
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Unavailable && attempt < 20)
            {
                Interlocked.Increment(ref Model.RetriedWrites);
                await Task.Delay(50);
            }
        }
    }

    private async Task<bool> WaitForCreditLegsAsync()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var owed = 0;
            foreach (var engine in _bank.Cells.Engines)
            {
                owed += (await engine.GetOwedCreditLegsAsync(10)).Count(leg => engine.Ownership.Serves(leg.Partition));
            }
            if (owed == 0)
            {
                return true;
            }
            await Task.Delay(50);
        }
        return false;
    }
}

/// <summary>What the traffic was told: acknowledged transfers and the balances they imply.</summary>
public sealed class Model
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
        if (!countsAsMoney)
        {
            return;
        }
        var debit = transfer.DebitAccountId.ToUInt128();
        var credit = transfer.CreditAccountId.ToUInt128();
        _money.GetOrAdd(debit, _ => []).Add(id);
        _money.GetOrAdd(credit, _ => []).Add(id);
        _net.AddOrUpdate(debit, -transfer.Amount, (_, net) => net - transfer.Amount);
        _net.AddOrUpdate(credit, transfer.Amount, (_, net) => net + transfer.Amount);
    }

    public long Expected(UInt128 account) => _net.GetValueOrDefault(account);

    /// <summary>The acknowledged payments (and posts) the account was debited or credited by.</summary>
    public IReadOnlyCollection<UInt128> MoneyOf(UInt128 account) => _money.TryGetValue(account, out var ids) ? ids.ToArray() : [];
}
