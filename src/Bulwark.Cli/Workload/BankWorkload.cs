using System.Diagnostics;
using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Feed.Protos;
using Grpc.Core;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using FeedClient = Bulwark.Feed.Protos.Feed.FeedClient;

namespace Bulwark.Cli.Workload;

/// <summary>
/// Background traffic for the embedded bank: customers paying each other, moving money into and
/// out of pots, and reading their feed. Open loop: operations start on schedule whether or not
/// earlier ones have finished, and latency is measured from the scheduled start, so a slow bank
/// shows up as latency rather than as a politely slower workload.
/// </summary>
public sealed class BankWorkload(AccountsClient accounts, FeedClient feed, DemoPopulation population, int seed)
{
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
    private int _inFlight;

    public LatencyRecorder Recorder => _recorder;

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
            var customer = population.Customers[random.Next(population.Customers.Count)];
            switch (operation)
            {
                case Operation.Payment:
                    await PaySomeoneAsync(customer, random);
                    break;
                case Operation.PotMove:
                    await MovePotMoneyAsync(customer, random);
                    break;
                default:
                    await feed.ListFeedAsync(new ListFeedRequest { LedgerAccountId = customer.LedgerAccountId, Limit = 20 }, deadline: Deadline());
                    break;
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

    private async Task PaySomeoneAsync(DemoCustomer payer, Random random)
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
            Amount = 100 + random.NextInt64(1_900),
            Currency = DemoSeeder.Currency,
            Reference = References[random.Next(References.Length)],
            IdempotencyKey = RandomKey(),
        }, deadline: Deadline());
    }

    private async Task MovePotMoneyAsync(DemoCustomer customer, Random random) =>
        await accounts.MoveMoneyAsync(new MoveMoneyRequest
        {
            CustomerId = customer.CustomerId,
            PotId = customer.PotId,
            Direction = random.Next(2) == 0 ? MoveDirection.IntoPot : MoveDirection.OutOfPot,
            Amount = 100 + random.NextInt64(900),
            Currency = DemoSeeder.Currency,
            IdempotencyKey = RandomKey(),
        }, deadline: Deadline());

    private static readonly string[] References = ["Dinner", "Rent share", "Drinks", "Birthday", "Concert tickets", "Taxi", "Groceries", "Thanks!"];

    /// <summary>
    /// Idempotency keys come from the system's random source, not the seeded one: a second run with
    /// the same seed must make new movements, not replay the first run's keys.
    /// </summary>
    private static string RandomKey()
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static DateTime Deadline() => DateTime.UtcNow.Add(CallDeadline);
}
