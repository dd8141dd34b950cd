using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    /// <summary>
    /// A goodwill credit or refund two staff members approved: one ledger transfer from the bank's
    /// goodwill and refunds account, whose id is derived from the approval id alone. The movement
    /// is looked up by that id first (a retry after it was recorded never reaches the ledger); a
    /// re-execution after a crash between the ledger and the record reaches the ledger, which
    /// answers the transfer it already holds (duplicate), and the record is written then.
    /// </summary>
    public override async Task<MoneyMovement> CreditFromBank(CreditFromBankRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var accountId = RequestFields.Id(request.AccountId, "account_id");
        var amount = RequestFields.Amount(request.Amount, "amount", AccountsLimits.BankCreditAmountMax, zeroAllowed: false);
        var currency = RequestFields.Currency(request.Currency, "currency");
        var (kind, code, category, description) = request.Kind switch
        {
            BankCreditKind.GoodwillCredit => (MovementKinds.GoodwillCredit, LedgerCodes.TransferGoodwillCredit, LedgerCodes.CategoryIncome, "Goodwill credit from Bulwark"),
            BankCreditKind.Refund => (MovementKinds.Refund, LedgerCodes.TransferRefund, LedgerCodes.CategoryRefunds, "Refund from Bulwark"),
            _ => throw AccountsErrors.Invalid("kind", "must be GOODWILL_CREDIT or REFUND"),
        };
        var approvalId = RequestFields.Id(request.ApprovalId, "approval_id");
        var reference = RequestFields.Reference(request.Reference, "reference");
        var fingerprint = Fingerprint(kind, customerId, accountId, Text(amount), currency, approvalId, reference);
        var transferId = LedgerIds.ToHex(BankCredits.TransferId(approvalId));
        var cancellationToken = context.CancellationToken;
        if (await store.GetMovementAsync(transferId, cancellationToken) is { } recorded)
        {
            return recorded.RequestFingerprint == fingerprint ? ToProto(recorded, duplicate: true) : throw ApprovalReused(approvalId);
        }

        var account = await OwnedAccountAsync(customerId, accountId, cancellationToken);
        if (currency != account.Currency)
        {
            throw AccountsErrors.Invalid("currency", $"must be {account.Currency}, the credited account's currency");
        }
        if ((await CustomerAsync(customerId, cancellationToken)).Synthetic)
        {
            throw AccountsErrors.FailedPrecondition("A synthetic customer gets no credits from the bank: its account holds the coherence checker's money.");
        }
        // Maker-checker is the accounts service's to enforce too: no approval that says exactly this, no money.
        var originalTransferId = await approvalVerifier.VerifyAsync(new ApprovedCredit(approvalId, request.Kind, customerId, accountId, amount, currency), cancellationToken);
        if (request.Kind == BankCreditKind.Refund)
        {
            await ClaimRefundAsync(approvalId, originalTransferId.ToLowerInvariant(), account, amount, currency, context);
        }
        var transfer = new Transfer
        {
            Id = LedgerIds.ToProto(LedgerIds.FromHex(transferId)),
            DebitAccountId = LedgerIds.ToProto(await bankCredits.GoodwillAccountAsync(currency, context)),
            CreditAccountId = LedgerIds.ToProto(LedgerIds.FromHex(account.LedgerAccountId)),
            Amount = amount,
            Currency = currency,
            Code = code,
            // Only the request's own fields: a re-execution must send the very same body, or the ledger refuses it.
            Metadata = { [LedgerCodes.Category] = category, [LedgerCodes.CreditDescription] = description },
        };
        if (reference.Length > 0)
        {
            transfer.Metadata[LedgerCodes.Reference] = reference;
        }
        var result = await ledger.SubmitTransferAsync(transfer, IdNamespace.Bank, context);
        if (result.Status == TransferStatus.IdAlreadyUsedWithDifferentBody)
        {
            throw ApprovalReused(approvalId);
        }
        if (result.Status != TransferStatus.Ok)
        {
            if (request.Kind == BankCreditKind.Refund)
            {
                // Refused for good: what it claimed of the original is free for another refund.
                await store.ReleaseRefundClaimAsync(approvalId, CancellationToken.None);
            }
            throw TransferRefused(transferId, result.Status);
        }
        var movement = await store.RecordMovementAsync(
            new MovementRecord(transferId, customerId, kind, fingerprint, amount, currency, result.Transfer?.TimestampUnixMs ?? NowUnixMs()), cancellationToken);
        LogBankCredit(transferId, kind, amount, currency, customerId, approvalId, result.Duplicate);
        return movement.RequestFingerprint == fingerprint ? ToProto(movement, result.Duplicate) : throw ApprovalReused(approvalId);
    }

    /// <summary>
    /// A refund gives back (part of) a payment that took money from the credited account: the
    /// transfer its approval names must be one, settled, in the same currency, and the refunds of
    /// it together never exceed what it took (a claim recorded before any money moves, taken one
    /// at a time per original). A re-execution of the same approval finds its own claim.
    /// </summary>
    private async Task ClaimRefundAsync(string approvalId, string originalTransferId, CurrentAccountRecord account, long amount, string currency, ServerCallContext context)
    {
        if (originalTransferId.Length != 32 || !UInt128.TryParse(originalTransferId, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var id))
        {
            throw AccountsErrors.FailedPrecondition($"Approval {approvalId} refunds '{originalTransferId}', which is no ledger transfer id (32 hex digits): a refund names the payment it gives back. Nothing moved.");
        }
        var original = await ledger.GetTransferAsync(id, context)
            ?? throw AccountsErrors.FailedPrecondition($"There is no transfer {originalTransferId} to refund: nothing moved.");
        if (LedgerIds.ToHex(LedgerIds.FromProto(original.DebitAccountId)) != account.LedgerAccountId)
        {
            throw AccountsErrors.FailedPrecondition($"Transfer {originalTransferId} took no money from account {account.AccountId}: a refund goes back to the account the payment left. Nothing moved.");
        }
        if (original.Currency != currency)
        {
            throw AccountsErrors.FailedPrecondition($"Transfer {originalTransferId} was in {original.Currency}; a refund of it is in the same currency. Nothing moved.");
        }
        var flags = (TransferFlags)original.Flags;
        var refundable = flags.HasFlag(TransferFlags.Pending)
            ? original.State == TransferState.HoldPosted ? original.PostedAmount
                : throw AccountsErrors.FailedPrecondition($"Card payment {originalTransferId} is {(original.State == TransferState.Pending ? "not settled yet" : "not taken: it was voided or expired")}; only money that left the account is refunded. Nothing moved.")
            : flags.HasFlag(TransferFlags.PostPending) || flags.HasFlag(TransferFlags.VoidPending)
                ? throw AccountsErrors.FailedPrecondition($"Transfer {originalTransferId} settles or voids a card payment; name the card payment itself. Nothing moved.")
                : original.Amount;
        var claimed = await store.ClaimRefundAsync(new RefundClaim(approvalId, originalTransferId, amount, NowUnixMs()), refundable, context.CancellationToken);
        if (!claimed.Claimed)
        {
            throw claimed.Existing is not null
                ? ApprovalReused(approvalId)
                : AccountsErrors.FailedPrecondition(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"Refunding {amount} of transfer {originalTransferId} would refund {claimed.RefundedBefore + amount} in all, more than the {refundable} it took ({claimed.RefundedBefore} refunded already). Nothing moved."));
        }
    }

    private static RpcException ApprovalReused(string approvalId) =>
        AccountsErrors.AlreadyExists($"approval_id {approvalId} was already executed with a different customer, account, amount, currency, kind or reference; one approval moves money once.");

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 2006, Level = Microsoft.Extensions.Logging.LogLevel.Information,
        Message = "Bank credit {TransferId} ({Kind}) of {Amount} {Currency} to customer {CustomerId} for approval {ApprovalId} (duplicate: {Duplicate})")]
    private partial void LogBankCredit(string transferId, string kind, long amount, string currency, string customerId, string approvalId, bool duplicate);
}
