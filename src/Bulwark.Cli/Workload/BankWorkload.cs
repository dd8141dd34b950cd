using System.Diagnostics;
using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Feed.Protos;
using Bulwark.Ledger.Protos;
using Grpc.Core;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Workload;

/// <summary>
/// Background traffic for the embedded bank: customers paying each other, moving money into and
/// out of pots, and reading their feed. Open loop: operations start on schedule whether or not
/// earlier ones have finished, and latency is measured from the scheduled start, so a slow bank
/// shows up as latency rather than as a politely slower workload.
/// Customers live within their means: one does one money move at a time, looks at their balance
/// first, spends only what they hold (never the overdraft: card payments may use that), moves money
/// into a pot only from what they hold and out of it when short, and is paid (a salary, from the
/// bank's funding account as seeding pays it) when their balance is low — so card spending, which
/// takes money out of the population, does not drain it into the overdraft.
/// </summary>
public sealed class BankWorkload(AccountsClient accounts, FeedClient feed, LedgerClient ledger, DemoPopulation population, int seed)
{
    /// <summary>Below this balance (minor units) a customer chosen to pay someone is paid instead: GBP 200.</summary>
    public const long LowBalanceMinor = 20_000;

    /// <summary>An income payment is this much and up to <see cref="IncomeSpreadMinor"/> more: GBP 1,500 to 3,000.</summary>
    public const long IncomeMinor = 150_000;

    public const long IncomeSpreadMinor = 150_000;

    /// <summary>Operations in flight at most; beyond this new ones are shed and counted.</summary>
    public const int InFlightMax = 2_000;

    /// <summary>Every call gets this deadline.</summary>
    public static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the schedule is checked. Latency counts from the scheduled start, so a coarse
    /// tick would add up to one tick of artificial delay to every operation.
    /// </summary>
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(1);

    private readonly LatencyRecorder _recorder = new();

    /// <summary>One money move per customer at a time: a balance read and the move it decides stay together.</summary>
    private readonly SemaphoreSlim[] _customerTurns = [.. population.Customers.Select(_ => new SemaphoreSlim(1, 1))];
    private int _inFlight;

    public LatencyRecorder Recorder => _recorder;

    /// <summary>Concurrent read-only calls per warm-up round; rounds: <see cref="WarmUpRounds"/>.</summary>
    public const int WarmUpConcurrency = 32;

    public const int WarmUpRounds = 3;

    /// <summary>
    /// Warms the bank before it takes traffic: rounds of concurrent read-only calls down every path
    /// the workload uses (the ledger's balances, the accounts service, the feed), so that a fresh
    /// process compiles its code, opens its database connections and grows its thread pool before
    /// the first timed call — not while card authorisations wait on a budget and fall to stand-in.
    /// Nothing is recorded; a failed call is left for the run to report.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        for (var round = 0; round < WarmUpRounds; round++)
        {
            await Parallel.ForEachAsync(Enumerable.Range(round * WarmUpConcurrency, WarmUpConcurrency),
                new ParallelOptions { MaxDegreeOfParallelism = WarmUpConcurrency, CancellationToken = cancellationToken },
                async (index, token) =>
                {
                    var customer = population.Customers[index % population.Customers.Count];
                    try
                    {
                        await BalanceAsync(customer);
                        await accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = customer.CustomerId }, deadline: Deadline(), cancellationToken: token);
                        await feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = customer.LedgerAccountId, Limit = 20 }, deadline: Deadline(), cancellationToken: token);
                    }
                    catch (RpcException) when (!token.IsCancellationRequested)
                    {
                        // Warming only: the run itself counts and reports failures.
                    }
                });
        }
    }

    /// <summary>Runs at <paramref name="ratePerSecond"/> until cancelled, then waits for calls in flight.</summary>
    public async Task RunAsync(int ratePerSecond, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ratePerSecond, 1);
        var random = new Random(seed);
        var started = Stopwatch.GetTimestamp();
        long issued = 0;
        using var timer = new PeriodicTimer(TickInterval);
        var pending = new List<Task>();
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                // Operation i is due at i / rate seconds, so by now operations 0 .. floor(elapsed * rate) are.
                var due = (long)(Stopwatch.GetElapsedTime(started).TotalSeconds * ratePerSecond) + 1;
                for (; issued < due; issued++)
                {
                    var scheduled = started + (long)(issued * (double)Stopwatch.Frequency / ratePerSecond);
                    if (Volatile.Read(ref _inFlight) >= InFlightMax)
                    {
                        _recorder.RecordShed();
                        continue;
                    }
                    pending.Add(RunOneAsync(random.Next(100), random.Next(), scheduled));
                }
                pending.RemoveAll(task => task.IsCompleted);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over; fall through to let calls in flight finish (each has a deadline).
        }
        await Task.WhenAll(pending);
    }

    private async Task RunOneAsync(int kind, int choice, long scheduled)
    {
        Interlocked.Increment(ref _inFlight);
        var outcome = Outcome.Ok;
        var operation = kind < 40 ? Operation.Payment : kind < 70 ? Operation.PotMove : Operation.FeedRead;
        try
        {
            await Task.Yield();
            var random = new Random(choice);
            var index = random.Next(population.Customers.Count);
            var customer = population.Customers[index];
            if (operation == Operation.FeedRead)
            {
                await feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = customer.LedgerAccountId, Limit = 20 }, deadline: Deadline());
            }
            else
            {
                await _customerTurns[index].WaitAsync();
                try
                {
                    operation = await MoveMoneyAsync(operation, customer, random);
                }
                finally
                {
                    _customerTurns[index].Release();
                }
            }
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.FailedPrecondition)
        {
            // A business decline (insufficient funds): the bank answered correctly.
            outcome = Outcome.Declined;
        }
        catch (RpcException)
        {
            outcome = Outcome.Error;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
        _recorder.Record(operation, outcome, Stopwatch.GetElapsedTime(scheduled));
    }

    /// <summary>A payment or a pot move as a customer living within their means makes it; returns what was done.</summary>
    private async Task<Operation> MoveMoneyAsync(Operation operation, DemoCustomer customer, Random random)
    {
        var balance = await BalanceAsync(customer);
        if (operation == Operation.PotMove)
        {
            var amount = 100 + random.NextInt64(900);
            // Into the pot only from money the customer holds; out of it when they are short.
            await MovePotMoneyAsync(customer, amount, balance >= amount && random.Next(2) == 0 ? MoveDirection.IntoPot : MoveDirection.OutOfPot);
            return Operation.PotMove;
        }
        if (balance < LowBalanceMinor)
        {
            await PayIncomeAsync(customer, random);
            return Operation.Income;
        }
        await PaySomeoneAsync(customer, Math.Min(100 + random.NextInt64(1_900), balance), random);
        return Operation.Payment;
    }

    /// <summary>The customer's own money: settled less pending debits, without the overdraft.</summary>
    private async Task<long> BalanceAsync(DemoCustomer customer)
    {
        var response = await ledger.GetAccountsAsync(new GetAccountsRequest { Ids = { LedgerIds.ProtoFromHex(customer.LedgerAccountId) } }, deadline: Deadline());
        // An account the ledger does not know (its store lost and made again, say) is a failed
        // call the run counts and reports, not a crash of the run.
        var account = response.Accounts.SingleOrDefault()
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"the ledger does not know account {customer.LedgerAccountId}"));
        return account.CreditsPosted - account.DebitsPosted - account.DebitsPending;
    }

    private async Task PayIncomeAsync(DemoCustomer customer, Random random)
    {
        var response = await ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers =
            {
                new Transfer
                {
                    Id = Uint128.InNamespace(IdNamespace.Bank, RandomId()).ToProto(),
                    DebitAccountId = DemoSeeder.BankFundingAccountId.ToProto(),
                    CreditAccountId = LedgerIds.ProtoFromHex(customer.LedgerAccountId),
                    Amount = IncomeMinor + (random.NextInt64(IncomeSpreadMinor) / 100 * 100),
                    Currency = DemoSeeder.Currency,
                    Code = 1,
                    Metadata = { ["description"] = IncomeSources[random.Next(IncomeSources.Length)], ["category"] = "income" },
                },
            },
        }, deadline: Deadline());
        if (response.Results.Single().Status != TransferStatus.Ok)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"The ledger refused an income payment: {response.Results.Single().Status}."));
        }
    }

    private async Task PaySomeoneAsync(DemoCustomer payer, long amount, Random random)
    {
        DemoCustomer payee;
        do
        {
            payee = population.Customers[random.Next(population.Customers.Count)];
        }
        while (payee.CustomerId == payer.CustomerId && population.Customers.Count > 1);
        await accounts.PayAccountAsync(new PayAccountRequest
        {
            CustomerId = payer.CustomerId,
            FromAccountId = payer.AccountId,
            ToSortCode = payee.SortCode,
            ToAccountNumber = payee.AccountNumber,
            Amount = amount,
            Currency = DemoSeeder.Currency,
            Reference = References[random.Next(References.Length)],
            IdempotencyKey = RandomKey(),
        }, deadline: Deadline());
    }

    private async Task MovePotMoneyAsync(DemoCustomer customer, long amount, MoveDirection direction) =>
        await accounts.MoveMoneyAsync(new MoveMoneyRequest
        {
            CustomerId = customer.CustomerId,
            PotId = customer.PotId,
            Direction = direction,
            Amount = amount,
            Currency = DemoSeeder.Currency,
            IdempotencyKey = RandomKey(),
        }, deadline: Deadline());

    private static readonly string[] IncomeSources = ["Salary", "Freelance invoice", "Tax refund", "Pension", "Salary"];

    private static readonly string[] References = ["Dinner", "Rent share", "Drinks", "Birthday", "Concert tickets", "Taxi", "Groceries", "Thanks!"];

    /// <summary>
    /// Idempotency keys come from the system's random source, not the seeded one: a second run with
    /// the same seed must make new movements, not replay the first run's keys.
    /// </summary>
    private static string RandomKey() => RandomId().ToHex();

    private static UInt128 RandomId()
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(bytes) | 1;
    }

    private static DateTime Deadline() => DateTime.UtcNow.Add(CallDeadline);
}
