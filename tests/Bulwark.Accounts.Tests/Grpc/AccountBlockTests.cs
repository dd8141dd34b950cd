using Bulwark.Accounts.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Grpc;

/// <summary>A blocked account lets no money out (payments, moves into pots, card spends) and still takes money in.</summary>
public sealed class AccountBlockTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    private async Task<CurrentAccount> BlockAsync(CreateCustomerResponse customer, bool blocked, string reason = "suspected fraud") =>
        await Host.Accounts.SetAccountBlockedAsync(new SetAccountBlockedRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Blocked = blocked,
            Reason = reason,
        });

    private static PayAccountRequest Pay(CreateCustomerResponse payer, CreateCustomerResponse payee, long amount) => new()
    {
        CustomerId = payer.Customer.CustomerId,
        FromAccountId = payer.Account.AccountId,
        ToSortCode = payee.Account.SortCode,
        ToAccountNumber = payee.Account.AccountNumber,
        Amount = amount,
        Currency = "GBP",
        Reference = "Rent",
        IdempotencyKey = AccountsTestHost.NewKey(),
    };

    [Fact]
    public async Task Blocked_PaymentsOutRefused_PaymentsInTaken_UnblockedPaysAgain()
    {
        var blockedCustomer = await Host.NewCustomerAsync(name: "Blocked Person");
        var other = await Host.NewCustomerAsync(name: "Other Person");
        await Host.FundAsync(blockedCustomer.Account.LedgerAccountId, 10_000);
        await Host.FundAsync(other.Account.LedgerAccountId, 10_000);

        var blocked = await BlockAsync(blockedCustomer, blocked: true);
        var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.PayAccountAsync(Pay(blockedCustomer, other, 1_000)).ResponseAsync);
        await Host.Accounts.PayAccountAsync(Pay(other, blockedCustomer, 500));
        var listed = (await Host.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = blockedCustomer.Customer.CustomerId })).Accounts.Single();

        Assert.True(blocked.Blocked);
        Assert.Equal("suspected fraud", blocked.BlockedReason);
        Assert.StartsWith("account blocked", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(10_500, Host.Balance(blockedCustomer.Account.LedgerAccountId));
        Assert.True(listed.Blocked);

        var unblocked = await BlockAsync(blockedCustomer, blocked: false);
        await Host.Accounts.PayAccountAsync(Pay(blockedCustomer, other, 1_000));

        Assert.False(unblocked.Blocked);
        Assert.Equal("", unblocked.BlockedReason);
        Assert.Equal(9_500, Host.Balance(blockedCustomer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task Blocked_MoveIntoAPotRefused_OutOfAPotTaken_CardsSayTheirAccountIsBlocked()
    {
        var customer = await Host.NewCustomerAsync();
        await Host.FundAsync(customer.Account.LedgerAccountId, 10_000);
        var pot = await Host.Accounts.CreatePotAsync(new CreatePotRequest { CustomerId = customer.Customer.CustomerId, AccountId = customer.Account.AccountId, Name = "Rainy day" });
        MoveMoneyRequest Move(MoveDirection direction) => new()
        {
            CustomerId = customer.Customer.CustomerId,
            PotId = pot.PotId,
            Direction = direction,
            Amount = 1_000,
            Currency = "GBP",
            IdempotencyKey = AccountsTestHost.NewKey(),
        };
        await Host.Accounts.MoveMoneyAsync(Move(MoveDirection.IntoPot));
        var pan = TestPans.New();
        await Host.Accounts.IssueCardAsync(new IssueCardRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Pan = pan,
            ExpiryMonth = 12,
            ExpiryYear = AccountsTestHost.Start.Year + 3,
        });

        await BlockAsync(customer, blocked: true);

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.MoveMoneyAsync(Move(MoveDirection.IntoPot)).ResponseAsync);
        await Host.Accounts.MoveMoneyAsync(Move(MoveDirection.OutOfPot));
        var card = await Host.Accounts.FindCardByPanAsync(new FindCardByPanRequest { Pan = pan });
        Assert.True(card.AccountBlocked);
        Assert.False(card.Frozen);
        Assert.Equal(10_000, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task Block_AnotherCustomersAccount_PermissionDenied_NothingChanges()
    {
        var owner = await Host.NewCustomerAsync();
        var stranger = await Host.NewCustomerAsync();

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.SetAccountBlockedAsync(new SetAccountBlockedRequest
        {
            CustomerId = stranger.Customer.CustomerId,
            AccountId = owner.Account.AccountId,
            Blocked = true,
            Reason = "no",
        }).ResponseAsync);

        Assert.False((await Host.Accounts.ListAccountsAsync(new ListAccountsRequest { CustomerId = owner.Customer.CustomerId })).Accounts.Single().Blocked);
    }

    [Fact]
    public async Task Block_WithoutAReason_InvalidArgumentNamingReason()
    {
        var customer = await Host.NewCustomerAsync();

        await RpcAssert.InvalidAsync("reason", () => BlockAsync(customer, blocked: true, reason: "  "));
    }

    [Fact]
    public async Task CardFrozenByStaff_TheCustomerCannotUnfreezeIt_StaffUnfreezeLiftsBoth()
    {
        var customer = await Host.NewCustomerAsync();
        var card = await Host.Accounts.IssueCardAsync(new IssueCardRequest
        {
            CustomerId = customer.Customer.CustomerId,
            AccountId = customer.Account.AccountId,
            Pan = TestPans.New(),
            ExpiryMonth = 12,
            ExpiryYear = AccountsTestHost.Start.Year + 3,
        });
        SetCardFrozenRequest Freeze(bool frozen, bool byStaff) => new() { CustomerId = customer.Customer.CustomerId, CardId = card.CardId, Frozen = frozen, ByStaff = byStaff };

        var ownFreeze = await Host.Accounts.SetCardFrozenAsync(Freeze(frozen: true, byStaff: false));
        var staffFreeze = await Host.Accounts.SetCardFrozenAsync(Freeze(frozen: true, byStaff: true));
        var refused = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.SetCardFrozenAsync(Freeze(frozen: false, byStaff: false)).ResponseAsync);
        var listed = (await Host.Accounts.ListCardsAsync(new ListCardsRequest { CustomerId = customer.Customer.CustomerId })).Cards.Single();
        var staffUnfreeze = await Host.Accounts.SetCardFrozenAsync(Freeze(frozen: false, byStaff: true));

        Assert.Equal((true, false), (ownFreeze.Frozen, ownFreeze.FrozenByStaff));
        Assert.Equal((true, true), (staffFreeze.Frozen, staffFreeze.FrozenByStaff));
        Assert.StartsWith("card frozen by the bank", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal((true, true), (listed.Frozen, listed.FrozenByStaff));
        Assert.Equal((false, false), (staffUnfreeze.Frozen, staffUnfreeze.FrozenByStaff));
    }
}
