using Bulwark.Accounts.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Tests.Grpc;

public sealed class PayAccountTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    private async Task<(CreateCustomerResponse Payer, CreateCustomerResponse Payee)> PartiesAsync(long funds = 10_000, long overdraft = 0)
    {
        var payer = await Host.NewCustomerAsync(name: "Payer Person", overdraftLimit: overdraft);
        var payee = await Host.NewCustomerAsync(name: "Payee Person");
        if (funds > 0)
        {
            await Host.FundAsync(payer.Account.LedgerAccountId, funds);
        }
        return (payer, payee);
    }

    private static PayAccountRequest Pay(CreateCustomerResponse payer, CreateCustomerResponse payee, long amount) => new()
    {
        CustomerId = payer.Customer.CustomerId,
        FromAccountId = payer.Account.AccountId,
        ToSortCode = payee.Account.SortCode,
        ToAccountNumber = payee.Account.AccountNumber,
        Amount = amount,
        Currency = "GBP",
        Reference = "Dinner",
        IdempotencyKey = AccountsTestHost.NewKey(),
    };

    [Fact]
    public async Task PayAccount_Valid_MovesMoneyWithPaymentMetadataForBothSides()
    {
        var (payer, payee) = await PartiesAsync(funds: 10_000);
        var request = Pay(payer, payee, 1_234);

        var movement = await Host.Accounts.PayAccountAsync(request);

        Assert.NotEqual(request.IdempotencyKey, movement.TransferId);
        Assert.Equal(1_234, movement.Amount);
        Assert.False(movement.Duplicate);
        Assert.Equal(10_000 - 1_234, Host.Balance(payer.Account.LedgerAccountId));
        Assert.Equal(1_234, Host.Balance(payee.Account.LedgerAccountId));
        var transfer = Host.FakeLedger.FindTransfer(movement.TransferId)!;
        Assert.Equal(3u, transfer.Code);
        Assert.Equal("transfers", transfer.Metadata["category"]);
        Assert.Equal("Payee Person", transfer.Metadata["debit_description"]);
        Assert.Equal("Payer Person", transfer.Metadata["credit_description"]);
        Assert.Equal("Dinner", transfer.Metadata["reference"]);
    }

    [Fact]
    public async Task PayAccount_WithinOverdraft_Succeeds()
    {
        var (payer, payee) = await PartiesAsync(funds: 0, overdraft: 5_000);

        await Host.Accounts.PayAccountAsync(Pay(payer, payee, 5_000));

        Assert.Equal(-5_000, Host.Balance(payer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task PayAccount_BeyondFunds_FailedPreconditionInsufficientFunds()
    {
        var (payer, payee) = await PartiesAsync(funds: 1_000, overdraft: 500);

        var error = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.PayAccountAsync(Pay(payer, payee, 1_501)).ResponseAsync);

        Assert.Contains("insufficient funds", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, Host.Balance(payee.Account.LedgerAccountId));
    }

    [Fact]
    public async Task PayAccount_ToOwnAccount_InvalidArgument()
    {
        var (payer, _) = await PartiesAsync();

        await RpcAssert.InvalidAsync("to_account_number", () => Host.Accounts.PayAccountAsync(Pay(payer, payer, 100)).ResponseAsync);
    }

    [Fact]
    public async Task PayAccount_UnknownPayee_NotFound()
    {
        var (payer, payee) = await PartiesAsync();
        var request = Pay(payer, payee, 100);
        request.ToSortCode = payee.Account.SortCode == "999999" ? "999998" : "999999";

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task PayAccount_UnknownPayeeBeyondFunds_InsufficientFundsLikeAKnownPayee()
    {
        var (payer, payee) = await PartiesAsync(funds: 500);
        var known = Pay(payer, payee, 501);
        var unknown = Pay(payer, payee, 501);
        unknown.ToSortCode = payee.Account.SortCode == "999999" ? "999998" : "999999";

        var toKnown = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.PayAccountAsync(known).ResponseAsync);
        var toUnknown = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.PayAccountAsync(unknown).ResponseAsync);

        Assert.Equal(toKnown.Status.Detail, toUnknown.Status.Detail);
        Assert.Contains("insufficient funds", toUnknown.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(500, Host.Balance(payer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task PayAccount_UnknownPayeeInOtherCurrencyThanPayers_InvalidCurrencyNotNotFound()
    {
        var (payer, payee) = await PartiesAsync();
        var request = Pay(payer, payee, 100);
        request.ToSortCode = payee.Account.SortCode == "999999" ? "999998" : "999999";
        request.Currency = "EUR";

        await RpcAssert.InvalidAsync("currency", () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task PayAccount_FromSomeoneElsesAccount_PermissionDenied()
    {
        var (payer, payee) = await PartiesAsync();
        var request = Pay(payer, payee, 100);
        request.CustomerId = payee.Customer.CustomerId;

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
        Assert.Equal(10_000, Host.Balance(payer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task PayAccount_FromUnknownAccount_NotFound()
    {
        var (payer, payee) = await PartiesAsync();
        var request = Pay(payer, payee, 100);
        request.FromAccountId = Guid.NewGuid().ToString();

        await RpcAssert.FailsAsync(StatusCode.NotFound, () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task PayAccount_CurrencyOtherThanPayers_InvalidArgumentNamingCurrency()
    {
        var (payer, payee) = await PartiesAsync();
        var request = Pay(payer, payee, 100);
        request.Currency = "EUR";

        await RpcAssert.InvalidAsync("currency", () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task PayAccount_PayeeHoldsOtherCurrency_InvalidArgumentNamingPayeeAccount()
    {
        var (payer, _) = await PartiesAsync();
        var euroPayee = await Host.NewCustomerAsync(currency: "EUR");

        await RpcAssert.InvalidAsync("to_account_number", () => Host.Accounts.PayAccountAsync(Pay(payer, euroPayee, 100)).ResponseAsync);
    }

    public static TheoryData<string, Action<PayAccountRequest>> BadFields => new()
    {
        { "customer_id", r => r.CustomerId = "" },
        { "from_account_id", r => r.FromAccountId = "123" },
        { "to_sort_code", r => r.ToSortCode = "" },
        { "to_sort_code", r => r.ToSortCode = "04-00-75" },
        { "to_account_number", r => r.ToAccountNumber = "" },
        { "to_account_number", r => r.ToAccountNumber = "1234567" },
        { "amount", r => r.Amount = 0 },
        { "amount", r => r.Amount = -1 },
        { "amount", r => r.Amount = AccountsLimits.MovementAmountMax + 1 },
        { "currency", r => r.Currency = "" },
        { "currency", r => r.Currency = "ABC" },
        { "reference", r => r.Reference = new string('r', AccountsLimits.ReferenceLengthMax + 1) },
        { "reference", r => r.Reference = "line\nbreak" },
        { "idempotency_key", r => r.IdempotencyKey = "" },
        { "idempotency_key", r => r.IdempotencyKey = "xyz" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task PayAccount_BadField_InvalidArgumentNamingIt(string field, Action<PayAccountRequest> spoil)
    {
        ArgumentNullException.ThrowIfNull(spoil);
        var (payer, payee) = await PartiesAsync(funds: 0);
        var request = Pay(payer, payee, 100);
        spoil(request);

        await RpcAssert.InvalidAsync(field, () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task PayAccount_LongNonAsciiNames_PaysWithNamesShortenedToLedgerLimit()
    {
        var longName = new string('語', AccountsLimits.NameLengthMax);
        var payer = await Host.NewCustomerAsync(name: longName);
        var payee = await Host.NewCustomerAsync(name: longName);
        await Host.FundAsync(payer.Account.LedgerAccountId, 1_000);

        var movement = await Host.Accounts.PayAccountAsync(Pay(payer, payee, 100));

        var description = Host.FakeLedger.FindTransfer(movement.TransferId)!.Metadata["debit_description"];
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(description), 250, AccountsLimits.LedgerMetadataValueBytesMax);
        Assert.StartsWith(description, longName, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PayAccount_EmptyReference_PaysWithoutReference()
    {
        var (payer, payee) = await PartiesAsync();
        var request = Pay(payer, payee, 100);
        request.Reference = "";

        var movement = await Host.Accounts.PayAccountAsync(request);

        Assert.False(Host.FakeLedger.FindTransfer(movement.TransferId)!.Metadata.ContainsKey("reference"));
    }

    [Fact]
    public async Task PayAccount_RetryWithSameKey_ReturnsOriginalAsDuplicateAndPaysOnce()
    {
        var (payer, payee) = await PartiesAsync(funds: 10_000);
        var request = Pay(payer, payee, 4_000);

        var first = await Host.Accounts.PayAccountAsync(request);
        var retry = await Host.Accounts.PayAccountAsync(request);

        Assert.False(first.Duplicate);
        Assert.True(retry.Duplicate);
        Assert.Equal(first.TransferId, retry.TransferId);
        Assert.Equal(4_000, Host.Balance(payee.Account.LedgerAccountId));
    }

    [Fact]
    public async Task PayAccount_SameKeyDifferentReference_AlreadyExists()
    {
        var (payer, payee) = await PartiesAsync(funds: 10_000);
        var request = Pay(payer, payee, 4_000);
        await Host.Accounts.PayAccountAsync(request);
        request.Reference = "Rent share";

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task PayAccount_KeyAlreadyUsedForPotMove_AlreadyExists()
    {
        var (payer, payee) = await PartiesAsync(funds: 10_000);
        var pot = await Host.Accounts.CreatePotAsync(new CreatePotRequest { CustomerId = payer.Customer.CustomerId, AccountId = payer.Account.AccountId, Name = "Pot" });
        var key = AccountsTestHost.NewKey();
        await Host.Accounts.MoveMoneyAsync(new MoveMoneyRequest
        {
            CustomerId = payer.Customer.CustomerId,
            PotId = pot.PotId,
            Direction = MoveDirection.IntoPot,
            Amount = 100,
            Currency = "GBP",
            IdempotencyKey = key,
        });
        var request = Pay(payer, payee, 100);
        request.IdempotencyKey = key;

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
        Assert.Equal(0, Host.Balance(payee.Account.LedgerAccountId));
    }

    [Fact]
    public async Task PayAccount_RetryAfterCrashBetweenLedgerAndRecord_ReturnsDuplicateAndPaysOnce()
    {
        var (payer, payee) = await PartiesAsync(funds: 10_000);
        var request = Pay(payer, payee, 2_500);
        var first = await Host.Accounts.PayAccountAsync(request);
        PotTests.DeleteMovementRow(Host.DatabasePath, first.TransferId);

        var retry = await Host.Accounts.PayAccountAsync(request);

        Assert.True(retry.Duplicate);
        Assert.Equal(2_500, Host.Balance(payee.Account.LedgerAccountId));
    }

    [Fact]
    public async Task PayAccount_KeyUsedDirectlyInLedgerForOtherTransfer_AlreadyExists()
    {
        var (payer, payee) = await PartiesAsync(funds: 10_000);
        var request = Pay(payer, payee, 2_500);
        var other = Pay(payer, payee, 1_000);
        other.IdempotencyKey = request.IdempotencyKey;
        var first = await Host.Accounts.PayAccountAsync(other);
        PotTests.DeleteMovementRow(Host.DatabasePath, first.TransferId);

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Accounts.PayAccountAsync(request).ResponseAsync);
        Assert.Equal(1_000, Host.Balance(payee.Account.LedgerAccountId));
    }
}
