using Bulwark.Accounts.Protos;
using Bulwark.Ledger.Protos;
using Bulwark.Testing;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Grpc;

public sealed class PotTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    private async Task<(CreateCustomerResponse Customer, Pot Pot)> CustomerWithPotAsync(long funds = 10_000, string currency = "GBP")
    {
        var customer = await Host.NewCustomerAsync(currency: currency);
        var pot = await Host.Accounts.CreatePotAsync(new CreatePotRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Name = "Holiday",
            GoalAmount = 100_000,
        });
        if (funds > 0)
        {
            await Host.FundAsync(customer.Account.LedgerAccountId, funds, currency);
        }
        return (customer, pot);
    }

    private static MoveMoneyRequest Move(CreateCustomerResponse customer, Pot pot, long amount, MoveDirection direction = MoveDirection.IntoPot) => new()
    {
        CustomerId = customer.Customer.CustomerId,
        PotId = pot.PotId,
        Direction = direction,
        Amount = amount,
        Currency = pot.Currency,
        IdempotencyKey = AccountsTestHost.NewKey(),
    };

    [Fact]
    public async Task CreatePot_OwnAccount_CreatesPotWithItsOwnLedgerAccount()
    {
        var customer = await Host.NewCustomerAsync(currency: "EUR", overdraftLimit: 5_000);

        var pot = await Host.Accounts.CreatePotAsync(new CreatePotRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Name = " Rainy day ",
            GoalAmount = 50_000,
        });

        Assert.Equal("Rainy day", pot.Name);
        Assert.Equal(customer.Customer.CustomerId, pot.CustomerId);
        Assert.Equal(customer.Account.AccountId, pot.AccountId);
        Assert.Equal("EUR", pot.Currency);
        Assert.Equal(50_000, pot.GoalAmount);
        Assert.NotEqual(customer.Account.LedgerAccountId, pot.LedgerAccountId);
        var ledgerAccount = Host.FakeLedger.FindAccount(pot.LedgerAccountId)!;
        Assert.Equal(2u, ledgerAccount.Code);
        Assert.Equal((uint)AccountFlags.DebitsMustNotExceedCredits, ledgerAccount.Flags);
        Assert.Equal(0, ledgerAccount.OverdraftLimit);
        Assert.Equal("EUR", ledgerAccount.Currency);
    }

    [Fact]
    public async Task CreatePot_SomeoneElsesAccount_PermissionDenied()
    {
        var owner = await Host.NewCustomerAsync();
        var intruder = await Host.NewCustomerAsync();

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.CreatePotAsync(new CreatePotRequest
        {
            CustomerId = intruder.Customer.CustomerId,
            AccountId = owner.Account.AccountId,
            Name = "Mine now",
        }).ResponseAsync);
    }

    [Fact]
    public async Task CreatePot_UnknownAccount_NotFound()
    {
        var customer = await Host.NewCustomerAsync();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.CreatePotAsync(new CreatePotRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = Guid.NewGuid().ToString(),
            Name = "Nowhere",
        }).ResponseAsync);
    }

    [Theory]
    [InlineData("customer_id", "bad", null, "Pot", 0)]
    [InlineData("account_id", null, "bad", "Pot", 0)]
    [InlineData("name", null, null, "", 0)]
    [InlineData("name", null, null, "  ", 0)]
    [InlineData("goal_amount", null, null, "Pot", -1)]
    [InlineData("goal_amount", null, null, "Pot", AccountsLimits.PotGoalAmountMax + 1)]
    public async Task CreatePot_BadField_InvalidArgumentNamingIt(string field, string? customerId, string? accountId, string name, long goal)
    {
        var customer = await Host.NewCustomerAsync();
        var request = new CreatePotRequest
        {
            CustomerId = customerId ?? customer.Customer.CustomerId,
            AccountId = accountId ?? customer.Account.AccountId,
            Name = name,
            GoalAmount = goal,
        };

        await RpcAssert.InvalidAsync(field, () => Host.Accounts.CreatePotAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task CreatePot_NameTooLong_InvalidArgumentNamingName()
    {
        var customer = await Host.NewCustomerAsync();
        var request = new CreatePotRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Name = new string('n', AccountsLimits.PotNameLengthMax + 1),
        };

        await RpcAssert.InvalidAsync("name", () => Host.Accounts.CreatePotAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task ListMovements_PagesOfTwo_EveryRecordedMoveOnceWithItsLedgerTransferId()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        var moved = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 3; i++)
        {
            moved.Add((await Host.Accounts.MoveMoneyAsync(Move(customer, pot, 100 + i))).TransferId);
        }

        var seen = new List<RecordedMovement>();
        var cursor = "";
        do
        {
            var page = await Host.Accounts.ListMovementsAsync(new ListMovementsRequest { Limit = 2, Cursor = cursor });
            Assert.InRange(page.Movements.Count, 1, 2);
            seen.AddRange(page.Movements);
            cursor = page.NextCursor;
        }
        while (cursor.Length > 0);

        Assert.Equal(seen.Select(m => m.TransferId).Order(StringComparer.Ordinal), seen.Select(m => m.TransferId));
        var mine = seen.Where(m => moved.Contains(m.TransferId)).ToList();
        Assert.Equal(3, mine.Count);
        Assert.All(mine, m => Assert.Equal(("pot_move", customer.Customer.CustomerId, "GBP"), (m.Kind, m.CustomerId, m.Currency)));
        await RpcAssert.InvalidAsync("limit", () => Host.Accounts.ListMovementsAsync(new ListMovementsRequest { Limit = AccountsLimits.ListMovementsLimitMax + 1 }).ResponseAsync);
        await RpcAssert.InvalidAsync("cursor", () => Host.Accounts.ListMovementsAsync(new ListMovementsRequest { Cursor = "not-a-cursor" }).ResponseAsync);
    }

    [Fact]
    public async Task MoveMoney_IntoPot_OneLedgerTransferWithPotMetadata()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        var request = Move(customer, pot, 2_500);

        var movement = await Host.Accounts.MoveMoneyAsync(request);

        // Issue 11: the ledger id is derived from the key, in the customer namespace, never the key itself.
        Assert.NotEqual(request.IdempotencyKey, movement.TransferId);
        Assert.Equal(IdNamespace.Customer, Uint128.NamespaceOf(FakeLedger.Id(FakeLedger.Id(movement.TransferId))));
        Assert.Equal(2_500, movement.Amount);
        Assert.Equal("GBP", movement.Currency);
        Assert.False(movement.Duplicate);
        Assert.Equal(AccountsTestHost.Start.ToUnixTimeMilliseconds(), movement.TimestampUnixMs);
        Assert.Equal(7_500, Host.Balance(customer.Account.LedgerAccountId));
        Assert.Equal(2_500, Host.Balance(pot.LedgerAccountId));
        var transfer = Host.FakeLedger.FindTransfer(movement.TransferId)!;
        Assert.Equal(2u, transfer.Code);
        Assert.Equal("Holiday", transfer.Metadata["description"]);
        Assert.Equal("pot", transfer.Metadata["category"]);
    }

    [Fact]
    public async Task MoveMoney_OutOfPot_MovesBack()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        await Host.Accounts.MoveMoneyAsync(Move(customer, pot, 4_000));

        await Host.Accounts.MoveMoneyAsync(Move(customer, pot, 1_000, MoveDirection.OutOfPot));

        Assert.Equal(7_000, Host.Balance(customer.Account.LedgerAccountId));
        Assert.Equal(3_000, Host.Balance(pot.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_MoreThanAccountHolds_FailedPreconditionInsufficientFunds()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 1_000);

        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.MoveMoneyAsync(Move(customer, pot, 1_001)).ResponseAsync);

        Assert.Contains("insufficient funds", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1_000, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_IntoPotBeyondBalanceWithinOverdraft_RefusedWithoutUseOverdraft()
    {
        var customer = await Host.NewCustomerAsync(overdraftLimit: 50_000);
        var pot = await Host.Accounts.CreatePotAsync(new CreatePotRequest { CustomerId = customer.Customer.CustomerId, AccountId = customer.Account.AccountId, Name = "Holiday" });
        await Host.FundAsync(customer.Account.LedgerAccountId, 1_000);

        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.MoveMoneyAsync(Move(customer, pot, 1_001)).ResponseAsync);

        Assert.Contains("insufficient funds", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("use_overdraft", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1_000, Host.Balance(customer.Account.LedgerAccountId));
        Assert.Equal(0, Host.Balance(pot.LedgerAccountId));
        // Exactly the balance is the customer's own money: allowed.
        await Host.Accounts.MoveMoneyAsync(Move(customer, pot, 1_000));
        Assert.Equal(0, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_IntoPotBeyondBalanceWithUseOverdraft_UsesTheOverdraft()
    {
        var customer = await Host.NewCustomerAsync(overdraftLimit: 50_000);
        var pot = await Host.Accounts.CreatePotAsync(new CreatePotRequest { CustomerId = customer.Customer.CustomerId, AccountId = customer.Account.AccountId, Name = "Holiday" });
        await Host.FundAsync(customer.Account.LedgerAccountId, 1_000);
        var request = Move(customer, pot, 3_000);
        request.UseOverdraft = true;

        await Host.Accounts.MoveMoneyAsync(request);

        Assert.Equal(-2_000, Host.Balance(customer.Account.LedgerAccountId));
        Assert.Equal(3_000, Host.Balance(pot.LedgerAccountId));
        // A retry of the same request is the same movement, not refused by the overdraft rule.
        request.UseOverdraft = false;
        Assert.True((await Host.Accounts.MoveMoneyAsync(request)).Duplicate);
    }

    [Fact]
    public async Task MoveMoney_OutOfPotMoreThanPotHolds_FailedPreconditionInsufficientFunds()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 1_000);

        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition,
            () => Host.Accounts.MoveMoneyAsync(Move(customer, pot, 1, MoveDirection.OutOfPot)).ResponseAsync);

        Assert.Contains("insufficient funds", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MoveMoney_SomeoneElsesPot_PermissionDenied()
    {
        var (_, pot) = await CustomerWithPotAsync();
        var intruder = await Host.NewCustomerAsync();

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.MoveMoneyAsync(Move(intruder, pot, 100, MoveDirection.OutOfPot)).ResponseAsync);
    }

    [Fact]
    public async Task MoveMoney_UnknownPot_NotFound()
    {
        var (customer, pot) = await CustomerWithPotAsync();
        var request = Move(customer, pot, 100);
        request.PotId = Guid.NewGuid().ToString();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.MoveMoneyAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task MoveMoney_CurrencyOtherThanPots_InvalidArgumentNamingCurrency()
    {
        var (customer, pot) = await CustomerWithPotAsync();
        var request = Move(customer, pot, 100);
        request.Currency = "EUR";

        await RpcAssert.InvalidAsync("currency", () => Host.Accounts.MoveMoneyAsync(request).ResponseAsync);
    }

    public static TheoryData<string, Action<MoveMoneyRequest>> BadFields => new()
    {
        { "customer_id", r => r.CustomerId = "" },
        { "customer_id", r => r.CustomerId = "nope" },
        { "pot_id", r => r.PotId = "" },
        { "direction", r => r.Direction = MoveDirection.Unspecified },
        { "direction", r => r.Direction = (MoveDirection)7 },
        { "amount", r => r.Amount = 0 },
        { "amount", r => r.Amount = -100 },
        { "amount", r => r.Amount = AccountsLimits.MovementAmountMax + 1 },
        { "currency", r => r.Currency = "" },
        { "currency", r => r.Currency = "pounds" },
        { "idempotency_key", r => r.IdempotencyKey = "" },
        { "idempotency_key", r => r.IdempotencyKey = "1234" },
        { "idempotency_key", r => r.IdempotencyKey = new string('g', 32) },
        { "idempotency_key", r => r.IdempotencyKey = Guid.NewGuid().ToString() },
        { "idempotency_key", r => r.IdempotencyKey = new string('0', 32) },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task MoveMoney_BadField_InvalidArgumentNamingIt(string field, Action<MoveMoneyRequest> spoil)
    {
        ArgumentNullException.ThrowIfNull(spoil);
        var (customer, pot) = await CustomerWithPotAsync(funds: 0);
        var request = Move(customer, pot, 100);
        spoil(request);

        await RpcAssert.InvalidAsync(field, () => Host.Accounts.MoveMoneyAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task MoveMoney_RetryWithSameKey_ReturnsOriginalAsDuplicateAndMovesOnce()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        var request = Move(customer, pot, 3_000);

        var first = await Host.Accounts.MoveMoneyAsync(request);
        Host.Time.Advance(TimeSpan.FromMinutes(5));
        var retry = await Host.Accounts.MoveMoneyAsync(request);

        Assert.False(first.Duplicate);
        Assert.True(retry.Duplicate);
        Assert.Equal(first.TransferId, retry.TransferId);
        Assert.Equal(first.TimestampUnixMs, retry.TimestampUnixMs);
        Assert.Equal(7_000, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_KeyInUpperCase_SameMovementAsLowerCase()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        var request = Move(customer, pot, 3_000);
        var first = await Host.Accounts.MoveMoneyAsync(request);
        request.IdempotencyKey = request.IdempotencyKey.ToUpperInvariant();

        var retry = await Host.Accounts.MoveMoneyAsync(request);

        Assert.True(retry.Duplicate);
        Assert.Equal(first.TransferId, retry.TransferId);
    }

    [Fact]
    public async Task MoveMoney_SameKeyDifferentRequest_AlreadyExists()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        var request = Move(customer, pot, 3_000);
        await Host.Accounts.MoveMoneyAsync(request);
        request.Amount = 3_001;

        var error = await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Accounts.MoveMoneyAsync(request).ResponseAsync);

        Assert.Contains("idempotency_key", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(7_000, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_ConcurrentRetriesWithSameKey_MoveOnce()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        var request = Move(customer, pot, 1_000);

        var movements = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Host.Accounts.MoveMoneyAsync(request).ResponseAsync));

        Assert.Single(movements, movement => !movement.Duplicate);
        Assert.All(movements, movement => Assert.Equal(movements[0].TransferId, movement.TransferId));
        Assert.Equal(9_000, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_RetryAfterCrashBetweenLedgerAndRecord_ReturnsDuplicateAndMovesOnce()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 10_000);
        var request = Move(customer, pot, 2_000);
        var first = await Host.Accounts.MoveMoneyAsync(request);
        // What a crash after the ledger committed and before the movement row was written leaves behind.
        DeleteMovementRow(Host.DatabasePath, first.TransferId);

        var retry = await Host.Accounts.MoveMoneyAsync(request);

        Assert.True(retry.Duplicate);
        Assert.Equal(first.TransferId, retry.TransferId);
        Assert.Equal(8_000, Host.Balance(customer.Account.LedgerAccountId));
        Assert.Equal(2_000, Host.Balance(pot.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_FailedForInsufficientFunds_SameKeySucceedsOnceFunded()
    {
        var (customer, pot) = await CustomerWithPotAsync(funds: 500);
        var request = Move(customer, pot, 1_000);
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.MoveMoneyAsync(request).ResponseAsync);
        await Host.FundAsync(customer.Account.LedgerAccountId, 500);

        var movement = await Host.Accounts.MoveMoneyAsync(request);

        Assert.False(movement.Duplicate);
        Assert.Equal(1_000, Host.Balance(pot.LedgerAccountId));
    }

    [Fact]
    public async Task MoveMoney_LedgerDown_UnavailableThenRetrySucceeds()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var customer = await host.NewCustomerAsync();
        var pot = await host.Accounts.CreatePotAsync(new CreatePotRequest { CustomerId = customer.Customer.CustomerId, AccountId = customer.Account.AccountId, Name = "Bike" });
        await host.FundAsync(customer.Account.LedgerAccountId, 1_000);
        var request = Move(customer, pot, 600);
        host.FakeLedger.Unavailable = true;

        await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Accounts.MoveMoneyAsync(request).ResponseAsync);
        host.FakeLedger.Unavailable = false;
        var movement = await host.Accounts.MoveMoneyAsync(request);

        Assert.False(movement.Duplicate);
        Assert.Equal(600, host.Balance(pot.LedgerAccountId));
    }

    /// <summary>Deletes the movement recorded for a ledger transfer id (the column keeps its old name).</summary>
    internal static void DeleteMovementRow(string databasePath, string transferId)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={databasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM money_movements WHERE idempotency_key = $key";
        command.Parameters.AddWithValue("$key", transferId);
        Assert.Equal(1, command.ExecuteNonQuery());
    }
}
