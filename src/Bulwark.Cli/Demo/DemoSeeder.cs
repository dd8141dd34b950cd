using System.Globalization;
using Bulwark.Accounts.Protos;
using Bulwark.Ledger.Protos;
using Grpc.Core;
using AccountsClient = Bulwark.Accounts.Protos.Accounts.AccountsClient;
using LedgerClient = Bulwark.Ledger.Protos.Ledger.LedgerClient;

namespace Bulwark.Cli.Demo;

/// <summary>
/// Seeds demo customers through the services' public contracts — exactly as an onboarding flow
/// would — and funds every account from the bank's own funding account through the ledger, so the
/// books balance from the first transfer. Every write is idempotent (deterministic ids), so an
/// interrupted seeding can simply run again.
/// </summary>
public sealed class DemoSeeder(AccountsClient accounts, LedgerClient ledger, TextWriter output)
{
    public const string DemoEmail = "demo@bulwark.example";
    public const string DemoPassword = "bulwark-demo";
    public const string Currency = "GBP";

    /// <summary>Customers who can log in (the rest have no password, so seeding spends no time hashing).</summary>
    public const int LoginCustomersCount = 3;

    /// <summary>How many seeding calls run at once: enough to fill the ledger's batches.</summary>
    public const int ConcurrencyMax = 32;

    /// <summary>Demo cards expire in December of <see cref="CardExpiryYear"/>.</summary>
    public const int CardExpiryMonth = 12;

    public static readonly UInt128 BankFundingAccountId = Bulwark.Platform.BankLedgerAccounts.FundingAccountId;
    public static readonly UInt128 CardSettlementAccountId = Bulwark.Platform.BankLedgerAccounts.CardSettlementAccountId;

    private static readonly string[] FirstNames =
    [
        "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo", "Lily",
        "Arthur", "Freya", "Muhammad", "Florence", "Oscar", "Grace", "Charlie", "Sophia", "Aisha", "Priya",
        "Kwame", "Chloe", "Rhys", "Siobhan", "Callum", "Niamh", "Tomasz", "Zara",
    ];

    private static readonly string[] LastNames =
    [
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
        "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Khan", "Okafor",
        "Murphy", "Kowalski", "Singh", "Campbell", "O'Brien", "Hughes", "Edwards", "Lewis",
    ];

    private static readonly string[] PotNames = ["Holiday", "Rainy day", "New bike", "Christmas", "House deposit", "Wedding"];

    public async Task<DemoPopulation> SeedAsync(int customerCount, int seed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(customerCount, 1);
        await CreateBankAccountsAsync(cancellationToken);
        var expiryYear = CardExpiryYear();
        var customers = new DemoCustomer[customerCount];
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, customerCount),
            new ParallelOptions { MaxDegreeOfParallelism = ConcurrencyMax, CancellationToken = cancellationToken },
            async (index, token) =>
            {
                customers[index] = await SeedCustomerAsync(index, seed, expiryYear, token);
                var count = Interlocked.Increment(ref done);
                if (count % 250 == 0 || count == customerCount)
                {
                    await output.WriteLineAsync($"  seeded {count:N0} of {customerCount:N0} customers");
                }
            });
        return new DemoPopulation(seed, customers) { CardExpiryYear = expiryYear };
    }

    /// <summary>
    /// Pays <paramref name="amount"/> (minor units, <see cref="Currency"/>) from the bank's funding
    /// account into a ledger account, opening the bank's own accounts first when they are missing
    /// (creating them again is idempotent): an operator's opening balance, funded as seeding funds
    /// salaries. <paramref name="transferId"/> is the idempotency key; returns it as 32 hex digits.
    /// </summary>
    public async Task<string> FundAsync(string ledgerAccountId, long amount, UInt128 transferId, string description, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(amount, 1);
        await CreateBankAccountsAsync(cancellationToken);
        await TransferAsync(new Transfer
        {
            Id = transferId.ToProto(),
            DebitAccountId = BankFundingAccountId.ToProto(),
            CreditAccountId = LedgerIds.ProtoFromHex(ledgerAccountId),
            Amount = amount,
            Currency = Currency,
            Code = 1,
            Metadata = { ["description"] = description, ["category"] = "income" },
        }, cancellationToken);
        return transferId.ToHex();
    }

    private async Task CreateBankAccountsAsync(CancellationToken cancellationToken)
    {
        var request = new CreateAccountsRequest
        {
            Accounts =
            {
                new Account { Id = BankFundingAccountId.ToProto(), Currency = Currency, Code = 100 },
                new Account { Id = CardSettlementAccountId.ToProto(), Currency = Currency, Code = 100 },
            },
        };
        var response = await ledger.CreateAccountsAsync(request, cancellationToken: cancellationToken);
        foreach (var result in response.Results)
        {
            if (result.Status != CreateAccountStatus.Ok)
            {
                throw new InvalidOperationException($"Could not create the bank's own ledger accounts: {result.Status}.");
            }
        }
    }

    private async Task<DemoCustomer> SeedCustomerAsync(int index, int seed, int expiryYear, CancellationToken cancellationToken)
    {
        var random = new Random(HashCode.Combine(seed, index));
        var name = index == 0 ? "Alex Morgan" : $"{FirstNames[random.Next(FirstNames.Length)]} {LastNames[random.Next(LastNames.Length)]}";
        var email = index == 0 ? DemoEmail : $"customer{index:D5}@bulwark.example";
        var password = index < LoginCustomersCount ? DemoPassword : "";
        var created = await CreateCustomerAsync(name, email, password, cancellationToken);
        var account = created.Account;

        var potName = PotNames[random.Next(PotNames.Length)];
        var pot = await CreatePotAsync(created.Customer.CustomerId, account.AccountId, potName, cancellationToken);

        var deposit = 50_000 + (random.NextInt64(450_000) / 100 * 100);
        await TransferAsync(new Transfer
        {
            Id = LedgerIds.Deterministic(seed, index, 1).ToProto(),
            DebitAccountId = BankFundingAccountId.ToProto(),
            CreditAccountId = LedgerIds.ProtoFromHex(account.LedgerAccountId),
            Amount = deposit,
            Currency = Currency,
            Code = 1,
            Metadata = { ["description"] = "Salary", ["category"] = "income", ["debit_description"] = name },
        }, cancellationToken);

        await accounts.MoveMoneyAsync(new MoveMoneyRequest
        {
            CustomerId = created.Customer.CustomerId,
            PotId = pot.PotId,
            Direction = MoveDirection.IntoPot,
            Amount = deposit / 10,
            Currency = Currency,
            IdempotencyKey = LedgerIds.Deterministic(seed, index, 2).ToHex(),
        }, cancellationToken: cancellationToken);

        await IssueCardAsync(created.Customer.CustomerId, account.AccountId, seed, index, expiryYear, cancellationToken);
        if (index < LoginCustomersCount)
        {
            await CardHistoryAsync(account.LedgerAccountId, seed, index, random, cancellationToken);
        }
        return new DemoCustomer(created.Customer.CustomerId, name, email, account.AccountId, account.LedgerAccountId,
            account.SortCode, account.AccountNumber, pot.PotId, pot.LedgerAccountId);
    }

    private async Task<CreateCustomerResponse> CreateCustomerAsync(string name, string email, string password, CancellationToken cancellationToken)
    {
        try
        {
            return await accounts.CreateCustomerAsync(new CreateCustomerRequest
            {
                Name = name,
                Email = email,
                Password = password,
                Currency = Currency,
                OverdraftLimit = 50_000,
            }, cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.AlreadyExists)
        {
            throw new InvalidOperationException(
                $"Customer {email} already exists but the demo population file is missing: the data directory holds an interrupted seeding. Remove the data directory (or pass another --data) and start again.", error);
        }
    }

    private async Task<Pot> CreatePotAsync(string customerId, string accountId, string potName, CancellationToken cancellationToken) =>
        await accounts.CreatePotAsync(new CreatePotRequest
        {
            CustomerId = customerId,
            AccountId = accountId,
            Name = potName,
            GoalAmount = 250_000,
        }, cancellationToken: cancellationToken);

    private async Task IssueCardAsync(string customerId, string accountId, int seed, int index, int expiryYear, CancellationToken cancellationToken) =>
        await accounts.IssueCardAsync(new IssueCardRequest
        {
            CustomerId = customerId,
            AccountId = accountId,
            Pan = DemoPan(seed, index),
            ExpiryMonth = CardExpiryMonth,
            ExpiryYear = expiryYear,
        }, cancellationToken: cancellationToken);

    /// <summary>The expiry year of cards seeded now: three years ahead.</summary>
    public static int CardExpiryYear() => DateTime.UtcNow.Year + 3;

    /// <summary>
    /// A Luhn-valid test PAN on a Bulwark BIN, derived from the seed and the customer. The card
    /// network simulator derives the same PANs, the way a scheme knows the cards it carries.
    /// </summary>
    public static string DemoPan(int seed, int index)
    {
        var body = string.Create(CultureInfo.InvariantCulture, $"535522{(uint)seed % 1000:D3}{index:D6}");
        return body + LuhnCheckDigit(body);
    }

    internal static char LuhnCheckDigit(string digits)
    {
        var sum = 0;
        var doubleIt = true;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var digit = digits[i] - '0';
            if (doubleIt)
            {
                digit *= 2;
                if (digit > 9)
                {
                    digit -= 9;
                }
            }
            sum += digit;
            doubleIt = !doubleIt;
        }
        return (char)('0' + ((10 - (sum % 10)) % 10));
    }

    /// <summary>
    /// Past card payments for the customers who can log in, so the feed has merchants from the
    /// first look: holds posted to the card settlement account, the last two still pending.
    /// </summary>
    private async Task CardHistoryAsync(string ledgerAccountId, int seed, int index, Random random, CancellationToken cancellationToken)
    {
        const int paymentsCount = 14;
        for (var payment = 0; payment < paymentsCount; payment++)
        {
            var merchant = Merchants.All[random.Next(Merchants.All.Count)];
            var amount = Math.Max(100, merchant.TypicalAmountMinor + random.NextInt64(-merchant.TypicalAmountMinor / 3, merchant.TypicalAmountMinor / 3));
            var holdId = LedgerIds.Deterministic(seed, index, 100 + (payment * 2), IdNamespace.Card);
            await TransferAsync(new Transfer
            {
                Id = holdId.ToProto(),
                DebitAccountId = LedgerIds.ProtoFromHex(ledgerAccountId),
                CreditAccountId = CardSettlementAccountId.ToProto(),
                Amount = amount,
                Currency = Currency,
                Code = 4,
                Flags = (uint)TransferFlags.Pending,
                TimeoutSeconds = 7 * 24 * 3600,
                Metadata =
                {
                    ["description"] = merchant.Name,
                    ["merchant_name"] = merchant.Name,
                    ["category"] = merchant.Category,
                    ["mcc"] = merchant.Mcc,
                },
            }, cancellationToken, IdNamespace.Card);
            if (payment < paymentsCount - 2)
            {
                await TransferAsync(new Transfer
                {
                    Id = LedgerIds.Deterministic(seed, index, 101 + (payment * 2), IdNamespace.Card).ToProto(),
                    PendingId = holdId.ToProto(),
                    Currency = Currency,
                    Code = 4,
                    Flags = (uint)TransferFlags.PostPending,
                }, cancellationToken, IdNamespace.Card);
            }
        }
    }

    /// <summary>Submits one seeding transfer as the bank's own job, or as the card processor for the card history.</summary>
    private async Task TransferAsync(Transfer transfer, CancellationToken cancellationToken, IdNamespace idNamespace = IdNamespace.Bank)
    {
        var response = await ledger.SubmitTransfersAsync(new SubmitTransfersRequest { IdNamespace = idNamespace, Transfers = { transfer } }, cancellationToken: cancellationToken);
        var result = response.Results.Single();
        if (result.Status != TransferStatus.Ok)
        {
            throw new InvalidOperationException($"Seeding transfer {transfer.Id.FromProto().ToHex()} was refused by the ledger: {result.Status}.");
        }
    }
}
