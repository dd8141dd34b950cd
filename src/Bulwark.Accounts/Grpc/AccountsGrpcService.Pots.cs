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
        if (await ReplayAsync(customerId, key, fingerprint, cancellationToken) is { } replay)
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
        if (into)
        {
            // Out of a pot is money into the account, which a block never stops.
            ThrowIfBlocked(account);
        }
        if (into && !request.UseOverdraft)
        {
            await ThrowIfIntoOverdraftAsync(account, customerId, key, amount, context);
        }
        var transfer = new Transfer
        {
            DebitAccountId = LedgerIds.ToProto(LedgerIds.FromHex(into ? account.LedgerAccountId : pot.LedgerAccountId)),
            CreditAccountId = LedgerIds.ToProto(LedgerIds.FromHex(into ? pot.LedgerAccountId : account.LedgerAccountId)),
            Amount = amount,
            Currency = currency,
            Code = LedgerCodes.TransferPotMove,
            Metadata = { [LedgerCodes.Description] = pot.Name, [LedgerCodes.Category] = LedgerCodes.CategoryPot },
        };
        return await ExecuteMovementAsync(transfer, customerId, key, MovementKinds.PotMove, fingerprint, context);
    }

    /// <summary>
    /// A move into a pot is the customer's own saving, not spending: it is never paid from the
    /// arranged overdraft unless the request says so (use_overdraft). The check reads the balance
    /// before the transfer, so a card hold placed in between can still take the account into its
    /// overdraft — the ledger's limit stays the hard one. A request whose key already has a transfer
    /// id is a retry of a move that may have committed: it is not checked again, so a retry never
    /// fails because its own first attempt spent the money.
    /// </summary>
    private async Task ThrowIfIntoOverdraftAsync(CurrentAccountRecord account, string customerId, UInt128 key, long amount, ServerCallContext context)
    {
        if (await store.FindMovementTransferIdAsync(customerId, LedgerIds.ToHex(key), context.CancellationToken) is not null)
        {
            return;
        }
        var balance = await ledger.GetBalanceAsync(LedgerIds.FromHex(account.LedgerAccountId), context);
        if (balance < amount)
        {
            throw AccountsErrors.FailedPrecondition(
                "insufficient funds: the account does not hold this amount without its overdraft; a move into a pot uses the overdraft only when the request allows it (use_overdraft)");
        }
    }

    /// <summary>
    /// Answers a retry: the same key with the same request returns the original movement
    /// (duplicate = true); the same key with another request is ALREADY_EXISTS. Keys are the
    /// customer's own: another customer's use of the same key is a different movement. A movement
    /// made before issue 11 is recorded under its raw key (then also its transfer id), and is
    /// found that way.
    /// </summary>
    private async Task<MoneyMovement?> ReplayAsync(string customerId, UInt128 key, string fingerprint, CancellationToken cancellationToken)
    {
        var keyHex = LedgerIds.ToHex(key);
        var transferId = await store.FindMovementTransferIdAsync(customerId, keyHex, cancellationToken);
        var existing = transferId is not null
            ? await store.GetMovementAsync(transferId, cancellationToken)
            : await store.GetMovementAsync(keyHex, cancellationToken) is { } raw && raw.CustomerId == customerId && raw.TimestampUnixMs < transferIds.DerivedSinceUnixMs
                ? raw
                : null;
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
    /// Submits the movement's one ledger transfer, then records the movement. The transfer's id is
    /// derived from the customer and the key (<see cref="CustomerTransferIds"/>) and recorded
    /// before it is sent, so a retry sends the same id. A crash between the ledger and the record
    /// is safe: the retry reaches the ledger again, which answers with the transfer it already
    /// holds (duplicate), and the record is written then.
    /// </summary>
    private async Task<MoneyMovement> ExecuteMovementAsync(Transfer transfer, string customerId, UInt128 key, string kind, string fingerprint, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var keyHex = LedgerIds.ToHex(key);
        var transferId = await store.FindMovementTransferIdAsync(customerId, keyHex, cancellationToken);
        if (transferId is null)
        {
            if (await AdoptRawKeyTransferAsync(transfer, customerId, key, kind, fingerprint, context) is { } adopted)
            {
                return adopted;
            }
            var derived = LedgerIds.ToHex(transferIds.Derive(customerId, key));
            transferId = await store.GetOrAddMovementTransferIdAsync(customerId, keyHex, derived, NowUnixMs(), cancellationToken);
        }
        transfer.Id = LedgerIds.ToProto(LedgerIds.FromHex(transferId));
        var result = await ledger.SubmitTransferAsync(transfer, context);
        if (result.Status != TransferStatus.Ok)
        {
            throw TransferRefused(transferId, result.Status);
        }
        return await RecordAsync(transfer, transferId, customerId, kind, fingerprint, result.Transfer?.TimestampUnixMs ?? NowUnixMs(), result.Duplicate, cancellationToken);
    }

    /// <summary>
    /// Before issue 11 a request's raw key was its transfer id. A request made then whose transfer
    /// committed but whose movement was never recorded (a crash, a timeout) may be retried now: the
    /// ledger is asked for a transfer under the raw key, and one from this customer's paying account
    /// made before derived ids is that request's — adopted (recorded, answered as a duplicate),
    /// never paid a second time. A transfer under that id debiting another account (a card hold,
    /// someone else's payment) is none of this request's business, which gets an id of its own.
    /// Only while <see cref="CustomerTransferIds.RawKeyRetriesPossible"/>.
    /// </summary>
    private async Task<MoneyMovement?> AdoptRawKeyTransferAsync(Transfer transfer, string customerId, UInt128 key, string kind, string fingerprint, ServerCallContext context)
    {
        if (!transferIds.RawKeyRetriesPossible)
        {
            return null;
        }
        var existing = await ledger.GetTransferAsync(key, context);
        if (existing is null
            || LedgerIds.FromProto(existing.DebitAccountId) != LedgerIds.FromProto(transfer.DebitAccountId)
            || existing.TimestampUnixMs >= transferIds.DerivedSinceUnixMs)
        {
            return null;
        }
        if (LedgerIds.FromProto(existing.CreditAccountId) != LedgerIds.FromProto(transfer.CreditAccountId)
            || existing.Amount != transfer.Amount || existing.Currency != transfer.Currency || existing.Code != transfer.Code)
        {
            throw KeyReused();
        }
        var keyHex = LedgerIds.ToHex(key);
        await store.GetOrAddMovementTransferIdAsync(customerId, keyHex, keyHex, NowUnixMs(), context.CancellationToken);
        LogRawKeyTransferAdopted(keyHex, customerId);
        return await RecordAsync(transfer, keyHex, customerId, kind, fingerprint, existing.TimestampUnixMs, duplicate: true, context.CancellationToken);
    }

    private async Task<MoneyMovement> RecordAsync(Transfer transfer, string transferId, string customerId, string kind, string fingerprint, long timestampUnixMs, bool duplicate, CancellationToken cancellationToken)
    {
        var recorded = await store.RecordMovementAsync(
            new MovementRecord(transferId, customerId, kind, fingerprint, transfer.Amount, transfer.Currency, timestampUnixMs),
            cancellationToken);
        if (recorded.RequestFingerprint != fingerprint)
        {
            throw KeyReused();
        }
        return ToProto(recorded, duplicate);
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
        TransferId = movement.TransferId,
        Amount = movement.Amount,
        Currency = movement.Currency,
        Duplicate = duplicate,
        TimestampUnixMs = movement.TimestampUnixMs,
    };

    private static class MovementKinds
    {
        public const string PotMove = "pot_move";
        public const string Payment = "payment";
        public const string GoodwillCredit = "goodwill_credit";
        public const string Refund = "refund";
    }
}
