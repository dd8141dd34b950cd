using Bulwark.Accounts.Protos;
using Bulwark.Feed.Protos;
using Grpc.Core;

namespace Bulwark.Edge.Tests.Fakes;

/// <summary>A ledger account as the fakes keep it: the four balance columns of the ledger contract.</summary>
public sealed class FakeLedgerAccount(string currency, long overdraftLimit)
{
    public string Currency { get; } = currency;

    public long OverdraftLimit { get; } = overdraftLimit;

    public long DebitsPending { get; set; }

    public long DebitsPosted { get; set; }

    public long CreditsPending { get; set; }

    public long CreditsPosted { get; set; }

    /// <summary>What can still be spent, overdraft included (the ledger's debit limit).</summary>
    public long Spendable => CreditsPosted - DebitsPosted - DebitsPending + OverdraftLimit;
}

public sealed record FakeCustomer(string CustomerId, string Name, string Email, string Password);

/// <summary>
/// The in-memory state behind the fake accounts, feed and ledger services: two customers (the demo
/// customer and another one), each with a current account, a pot and a card. Tests can make any
/// service fail with a gRPC status or answer late.
/// </summary>
public sealed class FakeBank
{
    public const string DemoEmail = "demo@bulwark.example";
    public const string DemoPassword = "bulwark-demo";
    public const string DemoCustomerId = "0d3f4c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
    public const string DemoAccountId = "6e1a9b3c-2d4f-4a6b-9c8d-0e1f2a3b4c5d";
    public const string DemoPotId = "7f2b0c4d-3e5a-4b7c-8d9e-1f2a3b4c5d6e";
    public const string DemoCardId = "8a3c1d5e-4f6b-4c8d-9eaf-2a3b4c5d6e7f";
    public const string DemoSortCode = "040004";
    public const string DemoAccountNumber = "11112222";
    public const string DemoAccountLedgerId = "00000000000000000000000000000a01";
    public const string DemoPotLedgerId = "00000000000000000000000000000a02";

    public const string OtherEmail = "other@bulwark.example";
    public const string OtherPassword = "other-password";
    public const string OtherCustomerId = "1e4a5d7b-2c3d-4e6f-9a01-b2c3d4e5f6a7";
    public const string OtherAccountId = "2f5b6e8c-3d4e-4f7a-8b12-c3d4e5f6a7b8";
    public const string OtherPotId = "3a6c7f9d-4e5f-4a8b-9c23-d4e5f6a7b8c9";
    public const string OtherCardId = "4b7d8a0e-5f6a-4b9c-8d34-e5f6a7b8c9d0";
    public const string OtherSortCode = "040004";
    public const string OtherAccountNumber = "33334444";
    public const string OtherAccountLedgerId = "00000000000000000000000000000b01";
    public const string OtherPotLedgerId = "00000000000000000000000000000b02";

    /// <summary>Demo balances: £1,000.00 settled, £12.50 held for a pending card payment, £500.00 overdraft.</summary>
    public const long DemoSettled = 100_000;
    public const long DemoPending = 1_250;
    public const long DemoOverdraft = 50_000;
    public const long DemoPotBalance = 5_000;
    public const int DemoFeedItems = 25;
    /// <summary>The demo feed's newest settled payment out (−£2.37).</summary>
    public const string DemoFirstSettledTransferId = "f0000000000000000000000000000001";

    private readonly Dictionary<string, StatusCode> _failures = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> _delays = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RpcException> _refusals = new(StringComparer.Ordinal);

    public FakeBank()
    {
        Customers.Add(new FakeCustomer(DemoCustomerId, "Alex Morgan", DemoEmail, DemoPassword));
        Customers.Add(new FakeCustomer(OtherCustomerId, "Sam Other", OtherEmail, OtherPassword));
        AddCustomerAccounts(DemoCustomerId, DemoAccountId, DemoSortCode, DemoAccountNumber, DemoAccountLedgerId, DemoPotId, "Holiday", DemoPotLedgerId, DemoCardId, "4242");
        AddCustomerAccounts(OtherCustomerId, OtherAccountId, OtherSortCode, OtherAccountNumber, OtherAccountLedgerId, OtherPotId, "Secret savings", OtherPotLedgerId, OtherCardId, "9999");

        var demo = LedgerAccounts[DemoAccountLedgerId];
        demo.CreditsPosted = DemoSettled + 20_000;
        demo.DebitsPosted = 20_000;
        demo.DebitsPending = DemoPending;
        LedgerAccounts[DemoPotLedgerId].CreditsPosted = DemoPotBalance;
        LedgerAccounts[OtherAccountLedgerId].CreditsPosted = 777_777;
        LedgerAccounts[OtherPotLedgerId].CreditsPosted = 123_456;
        SeedDemoFeed();
    }

    public Lock Sync { get; } = new();

    public List<FakeCustomer> Customers { get; } = [];

    public List<CurrentAccount> Accounts { get; } = [];

    public List<Pot> Pots { get; } = [];

    /// <summary>Every MoveMoney request the fake accounts service was asked, in order.</summary>
    public List<Bulwark.Accounts.Protos.MoveMoneyRequest> MoveMoneyRequests { get; } = [];

    public List<Card> Cards { get; } = [];

    public Dictionary<string, FakeLedgerAccount> LedgerAccounts { get; } = new(StringComparer.Ordinal);

    /// <summary>Feed items per ledger account, newest first.</summary>
    public Dictionary<string, List<FeedItem>> Feeds { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, MoneyMovement> Movements { get; } = new(StringComparer.Ordinal);

    /// <summary>Every CreditFromBank request, in order (retries and re-executions included).</summary>
    public List<Bulwark.Accounts.Protos.CreditFromBankRequest> CreditFromBankRequests { get; } = [];

    /// <summary>Credits that moved money: one per approval id, as the real service derives the transfer id from it.</summary>
    public Dictionary<string, MoneyMovement> BankCredits { get; } = new(StringComparer.Ordinal);

    /// <summary>Token ids revoked by a logout, as the accounts service keeps them for every edge.</summary>
    public HashSet<string> RevokedTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>How many times each fake service was called, by service name.</summary>
    public Dictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    public void Fail(string service, StatusCode code)
    {
        lock (Sync)
        {
            _failures[service] = code;
        }
    }

    /// <summary>Ends the failures <see cref="Fail"/> injected into <paramref name="service"/>.</summary>
    public void Heal(string service)
    {
        lock (Sync)
        {
            _failures.Remove(service);
        }
    }

    /// <summary>Makes every call to <paramref name="service"/> fail with exactly <paramref name="error"/> (message and trailers).</summary>
    public void Refuse(string service, RpcException error)
    {
        lock (Sync)
        {
            _refusals[service] = error;
        }
    }

    public void Delay(string service, TimeSpan delay)
    {
        lock (Sync)
        {
            _delays[service] = delay;
        }
    }

    public int CallCount(string service)
    {
        lock (Sync)
        {
            return Calls.GetValueOrDefault(service);
        }
    }

    /// <summary>Called at the start of every fake RPC: counts it and applies any injected failure or delay.</summary>
    public async Task EnterAsync(string service, ServerCallContext context)
    {
        StatusCode? failure = null;
        TimeSpan delay = TimeSpan.Zero;
        RpcException? refusal;
        lock (Sync)
        {
            Calls[service] = Calls.GetValueOrDefault(service) + 1;
            refusal = _refusals.GetValueOrDefault(service);
            if (_failures.TryGetValue(service, out var code))
            {
                failure = code;
            }
            delay = _delays.GetValueOrDefault(service);
        }
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, context.CancellationToken);
        }
        if (refusal is not null)
        {
            throw refusal;
        }
        if (failure is { } status)
        {
            throw new RpcException(new Status(status, $"injected {status} in {service}: secret internal detail"));
        }
    }

    public long BalanceOf(string ledgerAccountId)
    {
        lock (Sync)
        {
            var account = LedgerAccounts[ledgerAccountId];
            return account.CreditsPosted - account.DebitsPosted - account.DebitsPending;
        }
    }

    private void AddCustomerAccounts(string customerId, string accountId, string sortCode, string accountNumber, string accountLedgerId,
        string potId, string potName, string potLedgerId, string cardId, string lastFour)
    {
        Accounts.Add(new CurrentAccount
        {
            AccountId = accountId,
            CustomerId = customerId,
            SortCode = sortCode,
            AccountNumber = accountNumber,
            Currency = "GBP",
            OverdraftLimit = DemoOverdraft,
            LedgerAccountId = accountLedgerId,
            Name = "Current account",
        });
        Pots.Add(new Pot
        {
            PotId = potId,
            CustomerId = customerId,
            AccountId = accountId,
            Name = potName,
            Currency = "GBP",
            LedgerAccountId = potLedgerId,
            GoalAmount = 100_000,
        });
        Cards.Add(new Card
        {
            CardId = cardId,
            CustomerId = customerId,
            AccountId = accountId,
            LastFour = lastFour,
            ExpiryMonth = 9,
            ExpiryYear = 2029,
            Currency = "GBP",
            LedgerAccountId = accountLedgerId,
        });
        LedgerAccounts[accountLedgerId] = new FakeLedgerAccount("GBP", DemoOverdraft);
        LedgerAccounts[potLedgerId] = new FakeLedgerAccount("GBP", 0);
        Feeds[accountLedgerId] = [];
        Feeds[potLedgerId] = [];
    }

    private void SeedDemoFeed()
    {
        string[] merchants = ["Tesco", "Pret A Manger", "TfL Travel", "Amazon", "Odeon Cinemas"];
        string[] categories = ["groceries", "eating_out", "transport", "shopping", "entertainment"];
        var now = DateTimeOffset.UtcNow;
        var feed = Feeds[DemoAccountLedgerId];
        feed.Add(new FeedItem
        {
            TransferId = "f0000000000000000000000000000000",
            Amount = -DemoPending,
            Currency = "GBP",
            Description = "Pret A Manger",
            MerchantName = "Pret A Manger",
            Category = "eating_out",
            State = FeedItemState.Pending,
            TimestampUnixMs = now.ToUnixTimeMilliseconds(),
        });
        for (var i = 1; i < DemoFeedItems; i++)
        {
            var income = i % 7 == 0;
            feed.Add(new FeedItem
            {
                TransferId = $"f{i:x31}",
                Amount = income ? 250_000 : -(100 + (i * 137)),
                Currency = "GBP",
                Description = income ? "Salary" : merchants[i % merchants.Length],
                MerchantName = income ? "" : merchants[i % merchants.Length],
                Category = income ? "income" : categories[i % categories.Length],
                State = FeedItemState.Settled,
                TimestampUnixMs = now.AddHours(-5 * i).ToUnixTimeMilliseconds(),
            });
        }
    }
}
