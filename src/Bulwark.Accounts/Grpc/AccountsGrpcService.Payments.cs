using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Validation;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    public override async Task<MoneyMovement> PayAccount(PayAccountRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var fromAccountId = RequestFields.Id(request.FromAccountId, "from_account_id");
        var sortCode = RequestFields.Digits(request.ToSortCode, "to_sort_code", 6, "040075");
        var accountNumber = RequestFields.Digits(request.ToAccountNumber, "to_account_number", 8, "12345678");
        var amount = RequestFields.Amount(request.Amount, "amount", AccountsLimits.MovementAmountMax, zeroAllowed: false);
        var currency = RequestFields.Currency(request.Currency, "currency");
        var reference = RequestFields.Reference(request.Reference, "reference");
        var key = RequestFields.IdempotencyKey(request.IdempotencyKey, "idempotency_key");
        var fingerprint = Fingerprint(MovementKinds.Payment, customerId, fromAccountId, sortCode, accountNumber, Text(amount), currency, reference);
        var cancellationToken = context.CancellationToken;
        if (await ReplayAsync(customerId, key, fingerprint, cancellationToken) is { } replay)
        {
            return replay;
        }

        var from = await OwnedAccountAsync(customerId, fromAccountId, cancellationToken);
        ThrowIfBlocked(from);
        if (currency != from.Currency)
        {
            throw AccountsErrors.Invalid("currency", $"must be {from.Currency}, the paying account's currency");
        }
        var to = await store.FindCurrentAccountByNumberAsync(sortCode, accountNumber, cancellationToken);
        // The coherence checker's synthetic accounts are nobody's payee: to a payer they do not exist.
        if (to is null || (await CustomerAsync(to.CustomerId, cancellationToken)).Synthetic)
        {
            throw await PayeeNotFoundAsync(from, amount, sortCode, accountNumber, context);
        }
        if (to.AccountId == from.AccountId)
        {
            throw AccountsErrors.Invalid("to_account_number", "is the paying account itself; a payment needs another account");
        }
        if (to.Currency != from.Currency)
        {
            throw AccountsErrors.Invalid("to_account_number", $"holds {to.Currency}; payments between currencies are not supported");
        }
        var payer = await CustomerAsync(customerId, cancellationToken);
        var payee = await CustomerAsync(to.CustomerId, cancellationToken);
        if (payer.Synthetic)
        {
            // The coherence checker's synthetic customers only read: their accounts hold the checker's money.
            throw AccountsErrors.FailedPrecondition("A synthetic customer makes no payments.");
        }
        var transfer = new Transfer
        {
            DebitAccountId = LedgerIds.ToProto(LedgerIds.FromHex(from.LedgerAccountId)),
            CreditAccountId = LedgerIds.ToProto(LedgerIds.FromHex(to.LedgerAccountId)),
            Amount = amount,
            Currency = currency,
            Code = LedgerCodes.TransferPayment,
            Metadata =
            {
                [LedgerCodes.Category] = LedgerCodes.CategoryTransfers,
                // The payer's feed shows whom they paid; the payee's shows who paid them.
                [LedgerCodes.DebitDescription] = LedgerMetadata.Value(payee.Name),
                [LedgerCodes.CreditDescription] = LedgerMetadata.Value(payer.Name),
            },
        };
        if (reference.Length > 0)
        {
            transfer.Metadata[LedgerCodes.Reference] = reference;
        }
        return await ExecuteMovementAsync(transfer, customerId, key, MovementKinds.Payment, fingerprint, context);
    }
}
