namespace Bulwark.Platform;

/// <summary>
/// The bank's own ledger accounts, which every service names alike: their ids start with
/// "Bulwark\0" in ASCII, so no customer or card account id (random, or derived in another
/// namespace) can equal one.
/// </summary>
public static class BankLedgerAccounts
{
    /// <summary>"Bulwark\0" in ASCII: the high half of every bank account id.</summary>
    public const ulong High = 0x42_75_6C_77_61_72_6B_00UL;

    /// <summary>The funding account: money arriving from outside the bank (opening balances, income).</summary>
    public static readonly UInt128 FundingAccountId = new(High, 1);

    /// <summary>The card settlement account: what the bank owes the card scheme for posted card payments.</summary>
    public static readonly UInt128 CardSettlementAccountId = new(High, 2);
}
