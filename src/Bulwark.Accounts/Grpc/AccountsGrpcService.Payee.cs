using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    /// <summary>
    /// The answer to a payment to a sort code and account number nobody has. "No such payee" is
    /// given only for a payment that would otherwise go through: funds are checked first, so that an
    /// account with nothing in it cannot probe account numbers with penny payments (every probe
    /// answers "insufficient funds", as a payment to a real account would), and a funded one pays
    /// real money for every number that exists. The edge also limits these answers per customer.
    /// </summary>
    private async Task<RpcException> PayeeNotFoundAsync(CurrentAccountRecord from, long amount, string sortCode, string accountNumber, ServerCallContext context)
    {
        var spendable = await ledger.GetSpendableAsync(LedgerIds.FromHex(from.LedgerAccountId), context);
        if (spendable < amount)
        {
            // The same answer as the ledger's refusal of a payment to an existing account.
            return AccountsErrors.FailedPrecondition("insufficient funds: the account does not hold enough money (including any overdraft) for this amount");
        }
        return AccountsErrors.NotFound($"There is no account with sort code {sortCode} and account number {accountNumber}.");
    }
}
