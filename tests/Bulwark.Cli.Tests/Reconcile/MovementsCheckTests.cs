using Bulwark.Accounts.Protos;
using Bulwark.Cli.Demo;
using Bulwark.Cli.Reconcile;
using Bulwark.Ledger.Protos;

namespace Bulwark.Cli.Tests.Reconcile;

/// <summary>The movements check's rules for credits two staff members approved: paid by the bank's own account into the customer's current account.</summary>
public sealed class MovementsCheckTests
{
    private const string CustomerId = "0d3f4c6a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
    private const string CurrentAccount = "00000000000000000000000000000a01";
    private const string Pot = "00000000000000000000000000000a02";
    /// <summary>The bank's GBP goodwill and refunds account ("Bulwark\0", then 0x03 and "GBP").</summary>
    private const string BankGoodwill = "42756c7761726b000300000000474250";

    private static MovementsCheck.CustomerLedgerAccounts Accounts()
    {
        var accounts = new MovementsCheck.CustomerLedgerAccounts();
        accounts.Add(CustomerId, new ListAccountsResponse
        {
            Accounts = { new CurrentAccount { LedgerAccountId = CurrentAccount } },
            Pots = { new Pot { LedgerAccountId = Pot } },
        });
        return accounts;
    }

    private static Transfer Transfer(uint code, string debit, string credit) => new()
    {
        DebitAccountId = LedgerLookup.Parse(debit).ToProto(),
        CreditAccountId = LedgerLookup.Parse(credit).ToProto(),
        Amount = 1_500,
        Currency = "GBP",
        Code = code,
    };

    private static RecordedMovement Record(string kind) => new() { TransferId = "t1", CustomerId = CustomerId, Kind = kind, Amount = 1_500, Currency = "GBP" };

    private static ReconcileCheckResult Compare(RecordedMovement record, Transfer transfer)
    {
        var findings = new ReconcileFindings();
        MovementsCheck.Compare(record, transfer, Accounts(), findings);
        return findings.Result(new MovementsCheck(), 1);
    }

    [Theory]
    [InlineData("goodwill_credit", 5u)]
    [InlineData("refund", 6u)]
    public void Compare_BankCreditFromTheBanksAccountIntoTheCustomersCurrentAccount_NoFinding(string kind, uint code)
    {
        var result = Compare(Record(kind), Transfer(code, BankGoodwill, CurrentAccount));

        Assert.Empty(result.Findings);
    }

    [Fact]
    public void Compare_BankCreditPaidByACustomerOrIntoAPot_NeedsAPerson()
    {
        var fromCustomer = Compare(Record("refund"), Transfer(6, CurrentAccount, CurrentAccount));
        var intoPot = Compare(Record("goodwill_credit"), Transfer(5, BankGoodwill, Pot));
        var wrongCode = Compare(Record("goodwill_credit"), Transfer(6, BankGoodwill, CurrentAccount));

        Assert.Contains("belongs to a customer, not the bank", Assert.Single(fromCustomer.Findings).Detail, StringComparison.Ordinal);
        Assert.Contains("is not the customer's own", Assert.Single(intoPot.Findings).Detail, StringComparison.Ordinal);
        Assert.Contains("ledger code is 6", Assert.Single(wrongCode.Findings).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_PaymentDebitingTheCustomer_StillNoFinding()
    {
        var result = Compare(Record("payment"), Transfer(3, CurrentAccount, CurrentAccount));

        Assert.Empty(result.Findings);
    }
}
