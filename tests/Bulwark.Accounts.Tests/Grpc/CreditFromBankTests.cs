using Bulwark.Accounts.Protos;
using Bulwark.Ledger.Protos;
using Bulwark.Testing;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Accounts.Tests.Grpc;

/// <summary>
/// CreditFromBank: an approved goodwill credit or refund moves money once, from the bank's goodwill
/// and refunds account, whatever retries and re-executions come after.
/// </summary>
public sealed class CreditFromBankTests(AccountsHostFixture fixture) : IClassFixture<AccountsHostFixture>
{
    private AccountsTestHost Host => fixture.Host;

    /// <summary>A credit, approved (<see cref="FakeApprovals.Approve"/>) as the support service would have it.</summary>
    private static CreditFromBankRequest Credit(CreateCustomerResponse customer, long amount = 1_500, BankCreditKind kind = BankCreditKind.GoodwillCredit) => FakeApprovals.Approve(new()
    {
        CustomerId = customer.Customer.CustomerId,
        AccountId = customer.Account.AccountId,
        Amount = amount,
        Currency = "GBP",
        Kind = kind,
        ApprovalId = Guid.CreateVersion7().ToString("D"),
        Reference = "Sorry",
    });

    /// <summary>A refund of <paramref name="originalTransferId"/>, approved as the support service would have it.</summary>
    private static CreditFromBankRequest Refund(CreateCustomerResponse customer, string originalTransferId, long amount) => FakeApprovals.Approve(new()
    {
        CustomerId = customer.Customer.CustomerId,
        AccountId = customer.Account.AccountId,
        Amount = amount,
        Currency = "GBP",
        Kind = BankCreditKind.Refund,
        ApprovalId = Guid.CreateVersion7().ToString("D"),
        Reference = "Sorry",
    }, originalTransferId);

    /// <summary>Funds the customer's account with 2,000 more than <paramref name="amount"/>, then pays <paramref name="amount"/> out of it (or holds it, when <paramref name="hold"/>); answers that payment's transfer id.</summary>
    private async Task<string> PaidOutAsync(CreateCustomerResponse customer, long amount, bool hold = false)
    {
        var account = customer.Account.LedgerAccountId;
        await Host.FundAsync(account, amount + 2_000);
        var merchant = UInt128.Parse(AccountsTestHost.NewKey(), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture);
        await Host.Ledger.CreateAccountsAsync(new CreateAccountsRequest { Accounts = { new Account { Id = FakeLedger.Id(merchant), Currency = "GBP", Code = 100 } } });
        var id = Uint128.InNamespace(IdNamespace.Bank, FakeLedger.Id(FakeLedger.Id(AccountsTestHost.NewKey())));
        var response = await Host.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { new Transfer { Id = FakeLedger.Id(id), DebitAccountId = FakeLedger.Id(account), CreditAccountId = FakeLedger.Id(merchant), Amount = amount, Currency = "GBP", Code = 1, Flags = hold ? (uint)TransferFlags.Pending : 0 } },
        });
        Assert.Equal(TransferStatus.Ok, response.Results.Single().Status);
        return id.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Refund_OfAPaymentOut_InParts_NeverMoreThanItTook_AndARetryIsTheSameRefund()
    {
        var customer = await Host.NewCustomerAsync();
        var paid = await PaidOutAsync(customer, 4_000);
        var first = Refund(customer, paid, 2_500);

        await Host.Accounts.CreditFromBankAsync(first);
        var again = await Host.Accounts.CreditFromBankAsync(first);
        var tooMuch = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(Refund(customer, paid, 1_501)).ResponseAsync);
        await Host.Accounts.CreditFromBankAsync(Refund(customer, paid, 1_500));
        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(Refund(customer, paid, 1)).ResponseAsync);

        Assert.True(again.Duplicate);
        Assert.Contains("more than the 4000 it took (2500 refunded already)", tooMuch.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2_000 + 4_000, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task Refund_ConcurrentRefundsOfOnePayment_TogetherNeverMoreThanItTook()
    {
        var customer = await Host.NewCustomerAsync();
        var paid = await PaidOutAsync(customer, 1_000);
        var refunds = Enumerable.Range(0, 8).Select(_ => Refund(customer, paid, 300)).ToList();

        var outcomes = await Task.WhenAll(refunds.Select(async r =>
        {
            try
            {
                await Host.Accounts.CreditFromBankAsync(r);
                return StatusCode.OK;
            }
            catch (RpcException error)
            {
                return error.StatusCode;
            }
        }));

        Assert.Equal(3, outcomes.Count(o => o == StatusCode.OK));
        Assert.Equal(5, outcomes.Count(o => o == StatusCode.FailedPrecondition));
        Assert.Equal(2_000 + 900, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task Refund_OfNothingItCanGiveBack_FailedPrecondition_NothingMoves()
    {
        var customer = await Host.NewCustomerAsync();
        var other = await Host.NewCustomerAsync();
        var othersPayment = await PaidOutAsync(other, 1_000);
        var held = await PaidOutAsync(customer, 700, hold: true);
        var before = Host.Balance(customer.Account.LedgerAccountId);
        var incoming = (await Host.Ledger.ListAccountTransfersAsync(new ListAccountTransfersRequest { AccountId = FakeLedger.Id(customer.Account.LedgerAccountId) }))
            .Transfers.First(t => FakeLedger.Id(t.CreditAccountId) == FakeLedger.Id(FakeLedger.Id(customer.Account.LedgerAccountId)));

        var notAnId = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(Refund(customer, "feed-item-1", 100)).ResponseAsync);
        var unknown = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(Refund(customer, AccountsTestHost.NewKey(), 100)).ResponseAsync);
        var notTheirs = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(Refund(customer, othersPayment, 100)).ResponseAsync);
        var moneyIn = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(
            Refund(customer, FakeLedger.Id(incoming.Id).ToString("x32", System.Globalization.CultureInfo.InvariantCulture), 100)).ResponseAsync);
        var unsettled = await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(Refund(customer, held, 100)).ResponseAsync);

        Assert.Contains("no ledger transfer id", notAnId.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("There is no transfer", unknown.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("took no money from account", notTheirs.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("took no money from account", moneyIn.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("not settled yet", unsettled.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task Refund_OfASettledCardPayment_UpToWhatWasPosted()
    {
        var customer = await Host.NewCustomerAsync();
        var held = await PaidOutAsync(customer, 1_200, hold: true);
        var post = await Host.Ledger.SubmitTransfersAsync(new SubmitTransfersRequest
        {
            IdNamespace = IdNamespace.Bank,
            Transfers = { new Transfer { Id = FakeLedger.Id(Uint128.InNamespace(IdNamespace.Bank, FakeLedger.Id(FakeLedger.Id(AccountsTestHost.NewKey())))), PendingId = FakeLedger.Id(held), Amount = 1_050, Flags = (uint)TransferFlags.PostPending } },
        });
        Assert.Equal(TransferStatus.Ok, post.Results.Single().Status);

        await RpcAssert.FailsAsync(StatusCode.FailedPrecondition, () => Host.Accounts.CreditFromBankAsync(Refund(customer, held, 1_051)).ResponseAsync);
        await Host.Accounts.CreditFromBankAsync(Refund(customer, held, 1_050));

        Assert.Equal(2_000 + 1_200, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task CreditFromBank_NoApprovalOrOneForAnotherAmount_PermissionDenied_SupportAway_Unavailable_NothingMoves()
    {
        var customer = await Host.NewCustomerAsync();
        var unapproved = new CreditFromBankRequest(Credit(customer)) { ApprovalId = Guid.CreateVersion7().ToString("D") };
        var otherAmount = new CreditFromBankRequest(Credit(customer)) { Amount = 99_999 };
        var approvals = (FakeApprovals)Host.Services.GetRequiredService<Bulwark.Accounts.Ledger.IApprovalVerifier>();

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.CreditFromBankAsync(unapproved).ResponseAsync);
        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.CreditFromBankAsync(otherAmount).ResponseAsync);
        approvals.Unavailable = true;
        try
        {
            await RpcAssert.FailsAsync(StatusCode.Unavailable, () => Host.Accounts.CreditFromBankAsync(Credit(customer)).ResponseAsync);
        }
        finally
        {
            approvals.Unavailable = false;
        }

        Assert.Equal(0, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task CreditFromBank_CreditsTheAccountFromTheBanksAccount_InTheBankNamespace_AndRecordsTheMovement()
    {
        var customer = await Host.NewCustomerAsync();
        var paid = await PaidOutAsync(customer, 1_500);
        var request = Refund(customer, paid, 1_500);

        var movement = await Host.Accounts.CreditFromBankAsync(request);

        Assert.Equal((1_500L, "GBP", false), (movement.Amount, movement.Currency, movement.Duplicate));
        Assert.Equal(2_000 + 1_500, Host.Balance(customer.Account.LedgerAccountId));
        var transfer = Host.FakeLedger.FindTransfer(movement.TransferId);
        Assert.NotNull(transfer);
        Assert.Equal(IdNamespace.Bank, Uint128.NamespaceOf(FakeLedger.Id(transfer.Id)));
        Assert.Equal(("refunds", "Refund from Bulwark", "Sorry"), (transfer.Metadata["category"], transfer.Metadata["credit_description"], transfer.Metadata["reference"]));
        var bank = Host.FakeLedger.FindAccount(FakeLedger.Id(transfer.DebitAccountId).ToString("x32", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((100u, 0u), (bank!.Code, bank.Flags));
        var recorded = (await Host.Accounts.ListMovementsAsync(new ListMovementsRequest { Limit = 1_000 })).Movements.Single(m => m.TransferId == movement.TransferId);
        Assert.Equal(("refund", customer.Customer.CustomerId), (recorded.Kind, recorded.CustomerId));
    }

    [Fact]
    public async Task CreditFromBank_Retried_AnswersTheSameTransfer_AndMovesTheMoneyOnce()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Credit(customer);

        var first = await Host.Accounts.CreditFromBankAsync(request);
        var second = await Host.Accounts.CreditFromBankAsync(request);
        var third = await Host.Accounts.CreditFromBankAsync(request);

        Assert.Equal(first.TransferId, second.TransferId);
        Assert.Equal(first.TransferId, third.TransferId);
        Assert.True(second.Duplicate);
        Assert.Equal(1_500, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task CreditFromBank_SameApprovalWithAnotherAmount_AlreadyExists_AndNothingMoves()
    {
        var customer = await Host.NewCustomerAsync();
        var request = Credit(customer);
        await Host.Accounts.CreditFromBankAsync(request);
        var changed = request.Clone();
        changed.Amount = 9_999;

        await RpcAssert.FailsAsync(StatusCode.AlreadyExists, () => Host.Accounts.CreditFromBankAsync(changed).ResponseAsync);

        Assert.Equal(1_500, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task CreditFromBank_TwoApprovals_TwoTransfers()
    {
        var customer = await Host.NewCustomerAsync();

        var first = await Host.Accounts.CreditFromBankAsync(Credit(customer));
        var second = await Host.Accounts.CreditFromBankAsync(Credit(customer));

        Assert.NotEqual(first.TransferId, second.TransferId);
        Assert.Equal(3_000, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Theory]
    [InlineData("customer_id")]
    [InlineData("account_id")]
    [InlineData("amount")]
    [InlineData("amount_over_limit")]
    [InlineData("currency")]
    [InlineData("currency_not_the_accounts")]
    [InlineData("kind")]
    [InlineData("approval_id")]
    [InlineData("reference")]
    public async Task CreditFromBank_BadField_InvalidArgumentNamingIt_AndNothingMoves(string bad)
    {
        var customer = await Host.NewCustomerAsync();
        var request = Credit(customer);
        var field = bad;
        switch (bad)
        {
            case "customer_id": request.CustomerId = "nope"; break;
            case "account_id": request.AccountId = ""; break;
            case "amount": request.Amount = 0; break;
            case "amount_over_limit": request.Amount = AccountsLimits.BankCreditAmountMax + 1; field = "amount"; break;
            case "currency": request.Currency = "pounds"; break;
            case "currency_not_the_accounts": request.Currency = "EUR"; field = "currency"; break;
            case "kind": request.Kind = BankCreditKind.Unspecified; break;
            case "approval_id": request.ApprovalId = "approval-1"; break;
            case "reference": request.Reference = new string('x', AccountsLimits.ReferenceLengthMax + 1); break;
        }

        await RpcAssert.InvalidAsync(field, () => Host.Accounts.CreditFromBankAsync(request).ResponseAsync);

        Assert.Equal(0, Host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task CreditFromBank_AnotherCustomersAccount_PermissionDenied()
    {
        var customer = await Host.NewCustomerAsync();
        var other = await Host.NewCustomerAsync();
        var request = Credit(customer);
        request.AccountId = other.Account.AccountId;

        await RpcAssert.FailsAsync(StatusCode.PermissionDenied, () => Host.Accounts.CreditFromBankAsync(request).ResponseAsync);

        Assert.Equal(0, Host.Balance(other.Account.LedgerAccountId));
    }

    [Fact]
    public async Task CreditFromBank_LedgerDown_Unavailable_ThenTheRetryMovesTheMoneyOnce()
    {
        await using var host = await AccountsTestHost.StartAsync();
        var customer = await host.NewCustomerAsync();
        var request = Credit(customer);
        host.FakeLedger.Unavailable = true;

        await RpcAssert.FailsAsync(StatusCode.Unavailable, () => host.Accounts.CreditFromBankAsync(request).ResponseAsync);
        host.FakeLedger.Unavailable = false;
        await host.Accounts.CreditFromBankAsync(request);
        await host.Accounts.CreditFromBankAsync(request);

        Assert.Equal(1_500, host.Balance(customer.Account.LedgerAccountId));
    }

    [Fact]
    public async Task CreditFromBank_CrashAfterTheLedgerBeforeTheRecord_ReExecutionRecordsTheSameTransfer()
    {
        var directory = AccountsTestHost.NewDirectory();
        try
        {
            FakeLedger ledger;
            CreateCustomerResponse customer;
            CreditFromBankRequest request;
            MoneyMovement first;
            await using (var host = await AccountsTestHost.StartAsync(directory))
            {
                ledger = host.FakeLedger;
                customer = await host.NewCustomerAsync();
                request = Credit(customer);
                first = await host.Accounts.CreditFromBankAsync(request);
            }
            // The process died after the ledger committed and before the movement was written: remove the record.
            SqliteConnection.ClearAllPools();
            using (var connection = new SqliteConnection($"Data Source={Path.Combine(directory, "accounts.db")}"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "DELETE FROM money_movements WHERE idempotency_key = $id";
                command.Parameters.AddWithValue("$id", first.TransferId);
                Assert.Equal(1, command.ExecuteNonQuery());
            }
            SqliteConnection.ClearAllPools();
            var committed = ledger.CommittedTransfersCount;

            await using var restarted = await AccountsTestHost.StartAsync(directory, ledger: ledger);
            var again = await restarted.Accounts.CreditFromBankAsync(request);

            Assert.Equal((first.TransferId, true), (again.TransferId, again.Duplicate));
            Assert.Equal(committed, ledger.CommittedTransfersCount);
            Assert.Equal(1_500, restarted.Balance(customer.Account.LedgerAccountId));
            Assert.Contains((await restarted.Accounts.ListMovementsAsync(new ListMovementsRequest())).Movements, m => m.TransferId == first.TransferId);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
