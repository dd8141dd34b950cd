namespace Bulwark.Accounts.Ledger;

/// <summary>The shared chart of ledger codes and metadata keys (see docs/concepts/accounts.md).</summary>
internal static class LedgerCodes
{
    public const uint CurrentAccount = 1;
    public const uint Pot = 2;

    public const uint TransferPotMove = 2;
    public const uint TransferPayment = 3;

    public const string Description = "description";
    public const string DebitDescription = "debit_description";
    public const string CreditDescription = "credit_description";
    public const string Category = "category";
    public const string Reference = "reference";

    public const string CategoryPot = "pot";
    public const string CategoryTransfers = "transfers";
}
