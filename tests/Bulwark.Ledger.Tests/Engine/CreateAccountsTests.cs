using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Tests.Support;

namespace Bulwark.Ledger.Tests.Engine;

public sealed class CreateAccountsTests
{
    private static LedgerAccount Account(int id = 1, string currency = "GBP") => new()
    {
        Id = (UInt128)id,
        Currency = currency,
        Flags = AccountFlags.DebitsMustNotExceedCredits,
        OverdraftLimit = 500,
        Code = 1,
    };

    private static async Task<LedgerAccountResult> CreateAsync(TestLedger ledger, LedgerAccount account) =>
        Assert.Single(await ledger.Engine.CreateAccountsAsync([account]));

    [Fact]
    public async Task CreateAccounts_New_OkWithZeroBalancesAndLedgerTime()
    {
        await using var ledger = await TestLedger.StartAsync();

        var result = await CreateAsync(ledger, Account());
        var stored = await ledger.GetAccountAsync(1);

        Assert.Equal(new LedgerAccountResult(CreateAccountStatus.Ok, false), result);
        Assert.Equal("GBP", stored.Currency);
        Assert.Equal(AccountFlags.DebitsMustNotExceedCredits, stored.Flags);
        Assert.Equal(500, stored.OverdraftLimit);
        Assert.Equal(0, stored.DebitsPending + stored.DebitsPosted + stored.CreditsPending + stored.CreditsPosted);
        Assert.Equal(TestLedger.Start.ToUnixTimeMilliseconds(), stored.CreatedAtUnixMs);
    }

    [Fact]
    public async Task CreateAccounts_SameIdSameBody_OkDuplicateAndUnchanged()
    {
        await using var ledger = await TestLedger.StartAsync();
        await CreateAsync(ledger, Account());
        var before = await ledger.GetAccountAsync(1);
        ledger.Time.Advance(TimeSpan.FromMinutes(1));

        var result = await CreateAsync(ledger, Account());

        Assert.Equal(new LedgerAccountResult(CreateAccountStatus.Ok, true), result);
        Assert.Equal(before, await ledger.GetAccountAsync(1));
    }

    public static TheoryData<LedgerAccount> DifferentBodies() => new()
    {
        Account() with { Currency = "EUR" },
        Account() with { Flags = AccountFlags.None },
        Account() with { OverdraftLimit = 0 },
        Account() with { Code = 2 },
    };

    [Theory]
    [MemberData(nameof(DifferentBodies))]
    public async Task CreateAccounts_SameIdDifferentBody_IdAlreadyUsedWithDifferentBody(LedgerAccount different)
    {
        await using var ledger = await TestLedger.StartAsync();
        await CreateAsync(ledger, Account());

        var result = await CreateAsync(ledger, different);

        Assert.Equal(CreateAccountStatus.IdAlreadyUsedWithDifferentBody, result.Status);
        Assert.Equal("GBP", (await ledger.GetAccountAsync(1)).Currency);
    }

    [Fact]
    public async Task CreateAccounts_ZeroId_IdMustNotBeZero()
    {
        await using var ledger = await TestLedger.StartAsync();

        var result = await CreateAsync(ledger, Account(0));

        Assert.Equal(CreateAccountStatus.IdMustNotBeZero, result.Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("gbp")]
    [InlineData("XXX")]
    [InlineData("GBPX")]
    [InlineData("XAU")]
    public async Task CreateAccounts_NotAnActiveIsoCurrency_UnknownCurrency(string currency)
    {
        await using var ledger = await TestLedger.StartAsync();

        var result = await CreateAsync(ledger, Account(currency: currency));

        Assert.Equal(CreateAccountStatus.UnknownCurrency, result.Status);
        Assert.Empty(await ledger.Engine.GetAccountsAsync([1]));
    }

    [Fact]
    public async Task CreateAccounts_NegativeOverdraft_OverdraftLimitMustNotBeNegative()
    {
        await using var ledger = await TestLedger.StartAsync();

        var result = await CreateAsync(ledger, Account() with { OverdraftLimit = -1 });

        Assert.Equal(CreateAccountStatus.OverdraftLimitMustNotBeNegative, result.Status);
    }

    [Fact]
    public async Task CreateAccounts_NonZeroBalance_BalancesMustBeZero()
    {
        await using var ledger = await TestLedger.StartAsync();

        var result = await CreateAsync(ledger, Account() with { CreditsPosted = 100 });

        Assert.Equal(CreateAccountStatus.BalancesMustBeZero, result.Status);
    }

    [Fact]
    public async Task CreateAccounts_UnknownFlagBit_UnknownFlags()
    {
        await using var ledger = await TestLedger.StartAsync();

        var result = await CreateAsync(ledger, Account() with { Flags = (AccountFlags)2 });

        Assert.Equal(CreateAccountStatus.UnknownFlags, result.Status);
    }

    [Fact]
    public async Task CreateAccounts_ManyInOneCall_EachDecidedInOrder()
    {
        await using var ledger = await TestLedger.StartAsync();

        var results = await ledger.Engine.CreateAccountsAsync([Account(1), Account(1), Account(0), Account(1) with { Code = 9 }]);

        Assert.Equal(
            [new(CreateAccountStatus.Ok, false), new(CreateAccountStatus.Ok, true), new(CreateAccountStatus.IdMustNotBeZero, false), new(CreateAccountStatus.IdAlreadyUsedWithDifferentBody, false)],
            results);
    }
}
