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
        var request = Credit(customer, kind: BankCreditKind.Refund);

        var movement = await Host.Accounts.CreditFromBankAsync(request);

        Assert.Equal((1_500L, "GBP", false), (movement.Amount, movement.Currency, movement.Duplicate));
        Assert.Equal(1_500, Host.Balance(customer.Account.LedgerAccountId));
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
