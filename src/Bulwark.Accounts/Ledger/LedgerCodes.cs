namespace Bulwark.Accounts.Ledger;

/// <summary>The shared chart of ledger codes and metadata keys (see docs/concepts/accounts.md).</summary>
internal static class LedgerCodes
{
    public const uint CurrentAccount = 1;
    public const uint Pot = 2;

    public const uint TransferPotMove = 2;
    public const uint TransferPayment = 3;

    /// <summary>Bank credits approved by two staff members (4 is the card processor's card payment).</summary>
    public const uint TransferGoodwillCredit = 5;
    public const uint TransferRefund = 6;

    /// <summary>The bank's own ledger accounts (the demo's funding and card settlement accounts too).</summary>
    public const uint BankAccount = 100;

    public const string Description = "description";
    public const string DebitDescription = "debit_description";
    public const string CreditDescription = "credit_description";
    public const string Category = "category";
    public const string Reference = "reference";

    public const string CategoryPot = "pot";
    public const string CategoryTransfers = "transfers";
    public const string CategoryIncome = "income";
    public const string CategoryRefunds = "refunds";
}
