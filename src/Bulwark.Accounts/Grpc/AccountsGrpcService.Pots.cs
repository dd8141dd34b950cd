using Bulwark.Accounts.Ledger;
using Bulwark.Accounts.Protos;
using Bulwark.Accounts.Storage;
using Bulwark.Accounts.Validation;
using Bulwark.Ledger.Protos;
using Grpc.Core;

namespace Bulwark.Accounts.Grpc;

internal sealed partial class AccountsGrpcService
{
    public override async Task<Pot> CreatePot(CreatePotRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var accountId = RequestFields.Id(request.AccountId, "account_id");
        var name = RequestFields.Name(request.Name, "name", AccountsLimits.PotNameLengthMax);
        var goalAmount = RequestFields.Amount(request.GoalAmount, "goal_amount", AccountsLimits.PotGoalAmountMax, zeroAllowed: true);
        var cancellationToken = context.CancellationToken;
        var account = await OwnedAccountAsync(customerId, accountId, cancellationToken);
        // Checked here as well as in the store so that a refused pot does not leave a ledger account behind.
        if ((await store.ListPotsAsync(customerId, cancellationToken)).Count >= AccountsLimits.PotsPerCustomerMax)
        {
            throw PotLimitReached();
        }

        // Ledger account first, then the row: see CreateCustomer.
        var ledgerAccountId = LedgerIds.NewRandom();
        await ledger.CreateAccountAsync(ledgerAccountId, account.Currency, LedgerCodes.Pot, overdraftLimit: 0, context);
        var pot = new PotRecord(NewId(), customerId, accountId, name, account.Currency, LedgerIds.ToHex(ledgerAccountId), goalAmount, NowUnixMs());
        if (await store.CreatePotAsync(pot, AccountsLimits.PotsPerCustomerMax, cancellationToken) != CreateLimitedOutcome.Created)
        {
            throw PotLimitReached();
        }
        return ToProto(pot);
    }

    private static RpcException PotLimitReached() =>
        AccountsErrors.FailedPrecondition($"A customer may have at most {AccountsLimits.PotsPerCustomerMax} pots.");

    public override async Task<MoneyMovement> MoveMoney(MoveMoneyRequest request, ServerCallContext context)
    {
        var customerId = RequestFields.Id(request.CustomerId, "customer_id");
        var potId = RequestFields.Id(request.PotId, "pot_id");
        if (request.Direction is not (MoveDirection.IntoPot or MoveDirection.OutOfPot))
        {
            throw AccountsErrors.Invalid("direction", "must be MOVE_DIRECTION_INTO_POT or MOVE_DIRECTION_OUT_OF_POT");
        }
        var amount = RequestFields.Amount(request.Amount, "amount", AccountsLimits.MovementAmountMax, zeroAllowed: false);
        var currency = RequestFields.Currency(request.Currency, "currency");
        var key = RequestFields.IdempotencyKey(request.IdempotencyKey, "idempotency_key");
        var fingerprint = Fingerprint(MovementKinds.PotMove, customerId, potId, request.Direction.ToString(), Text(amount), currency);
        var cancellationToken = context.CancellationToken;
        if (await ReplayAsync(key, fingerprint, cancellationToken) is { } replay)
        {
            return replay;
        }

        var pot = await store.GetPotAsync(potId, cancellationToken)
            ?? throw AccountsErrors.NotFound($"There is no pot {potId}.");
        if (pot.CustomerId != customerId)
        {
            throw AccountsErrors.PermissionDenied($"Pot {potId} belongs to another customer.");
        }
        if (currency != pot.Currency)
        {
            throw AccountsErrors.Invalid("currency", $"must be {pot.Currency}, the pot's currency");
        }
        var account = await store.GetCurrentAccountAsync(pot.AccountId, cancellationToken)
            ?? throw AccountsErrors.Internal($"Pot {potId} belongs to a current account that does not exist.");
        var into = request.Direction == MoveDirection.IntoPot;
        var transfer = new Transfer
        {
            Id = LedgerIds.ToProto(key),
            DebitAccountId = LedgerIds.ToProto(LedgerIds.FromHex(into ? account.LedgerAccountId : pot.LedgerAccountId)),
            CreditAccountId = LedgerIds.ToProto(LedgerIds.FromHex(into ? pot.LedgerAccountId : account.LedgerAccountId)),
            Amount = amount,
            Currency = currency,
            Code = LedgerCodes.TransferPotMove,
            Metadata = { [LedgerCodes.Description] = pot.Name, [LedgerCodes.Category] = LedgerCodes.CategoryPot },
        };
        return await ExecuteMovementAsync(transfer, customerId, MovementKinds.PotMove, fingerprint, context);
    }

    /// <summary>
    /// Answers a retry: the same key with the same request returns the original movement
    /// (duplicate = true); the same key with another request is ALREADY_EXISTS.
    /// </summary>
    private async Task<MoneyMovement?> ReplayAsync(UInt128 key, string fingerprint, CancellationToken cancellationToken)
    {
        var existing = await store.GetMovementAsync(LedgerIds.ToHex(key), cancellationToken);
        if (existing is null)
        {
            return null;
        }
        if (existing.RequestFingerprint != fingerprint)
        {
            throw KeyReused();
        }
        return ToProto(existing, duplicate: true);
    }

    private static RpcException KeyReused() =>
        AccountsErrors.AlreadyExists("idempotency_key was already used for a different request; a new movement needs a new key.");

    /// <summary>
    /// Submits the movement's one ledger transfer, whose id is the idempotency key, then records the
    /// movement. A crash between the two is safe: the retry reaches the ledger again, which answers
    /// with the transfer it already holds (duplicate), and the record is written then.
    /// </summary>
    private async Task<MoneyMovement> ExecuteMovementAsync(Transfer transfer, string customerId, string kind, string fingerprint, ServerCallContext context)
    {
        var result = await ledger.SubmitTransferAsync(transfer, context);
        var transferId = LedgerIds.ToHex(LedgerIds.FromProto(transfer.Id));
        if (result.Status != TransferStatus.Ok)
        {
            throw TransferRefused(transferId, result.Status);
        }
        var timestamp = result.Transfer?.TimestampUnixMs ?? NowUnixMs();
        var recorded = await store.RecordMovementAsync(
            new MovementRecord(transferId, customerId, kind, fingerprint, transfer.Amount, transfer.Currency, timestamp),
            context.CancellationToken);
        if (recorded.RequestFingerprint != fingerprint)
        {
            throw KeyReused();
        }
        return ToProto(recorded, result.Duplicate);
    }

    private RpcException TransferRefused(string transferId, TransferStatus status)
    {
        switch (status)
        {
            case TransferStatus.ExceedsCredits:
                return AccountsErrors.FailedPrecondition("insufficient funds: the account does not hold enough money (including any overdraft) for this amount");
            case TransferStatus.CurrencyMismatch:
                return AccountsErrors.Invalid("currency", "does not match the currency of both accounts");
            case TransferStatus.UnknownCurrency:
                return AccountsErrors.Invalid("currency", "is not a currency the ledger holds");
            case TransferStatus.AmountMustBePositive:
                return AccountsErrors.Invalid("amount", "must be greater than zero");
            case TransferStatus.IdAlreadyUsedWithDifferentBody:
                return KeyReused();
            case TransferStatus.Overflow:
                return AccountsErrors.FailedPrecondition("the amount would overflow an account's balance");
            case TransferStatus.MetadataTooLarge:
                return AccountsErrors.Invalid("reference", "makes the payment details too large for the ledger");
            default:
                // Everything else (unknown accounts, bad flags) means this service built a wrong
                // transfer or its rows and the ledger disagree: a bug to look at, not a user error.
                LogTransferRefused(transferId, status.ToString());
                return AccountsErrors.Internal($"The ledger refused the transfer ({status}).");
        }
    }

    private static MoneyMovement ToProto(MovementRecord movement, bool duplicate) => new()
    {
        TransferId = movement.IdempotencyKey,
        Amount = movement.Amount,
        Currency = movement.Currency,
        Duplicate = duplicate,
        TimestampUnixMs = movement.TimestampUnixMs,
    };

    private static class MovementKinds
    {
        public const string PotMove = "pot_move";
        public const string Payment = "payment";
    }
}
