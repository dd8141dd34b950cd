using System.Globalization;
using System.Numerics;
using Bulwark.Ledger.Protos;
using Grpc.Core;
using LedgerBase = Bulwark.Ledger.Protos.Ledger.LedgerBase;

namespace Bulwark.Testing;

/// <summary>
/// An in-memory ledger for service tests, speaking the real ledger contract: accounts with the
/// debits-must-not-exceed-credits rule (EXCEEDS_CREDITS), transfers idempotent by id (same body:
/// the original, duplicate = true; another body: ID_ALREADY_USED_WITH_DIFFERENT_BODY), holds that
/// are posted (possibly for less), voided or expire by the injected clock, the ledger's metadata
/// limits, and
/// ListAccountTransfers newest first with a cursor and since_unix_ms. One lock; tests are small.
/// </summary>
public sealed class FakeLedger(TimeProvider time) : LedgerBase
{
    public const int ListLimitDefault = 50;
    public const int ListLimitMax = 1_000;
    public const int MetadataEntriesMax = 16;
    public const int MetadataValueBytesMax = 256;

    private const uint KnownTransferFlags = (uint)(TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending);

    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, Account> _accounts = [];
    private readonly Dictionary<UInt128, (Transfer Request, Transfer Committed)> _transfers = [];
    private readonly List<Transfer> _committed = [];
    private long _sequence;

    /// <summary>When true every call fails with UNAVAILABLE, as a ledger that is down.</summary>
    public bool Unavailable { get; set; }

    /// <summary>
    /// When true, a new transfer whose id is not in the request's declared namespace (or a forced
    /// customer transfer) is ID_NAMESPACE_MISMATCH, as in the real ledger. Off, the fake accepts
    /// any id, as ledgers before issue 11 did (tests use it to build a ledger of that time).
    /// </summary>
    public bool RequireNamespaces { get; set; }

    public int CommittedTransfersCount
    {
        get
        {
            lock (_lock)
            {
                return _committed.Count;
            }
        }
    }

    public static UInt128 Id(Uint128? id) => id is null ? UInt128.Zero : ((UInt128)id.High << 64) | id.Low;

    public static Uint128 Id(UInt128 id) => new() { High = (ulong)(id >> 64), Low = (ulong)id };

    public static Uint128 Id(string hex) => Id(UInt128.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));

    public Account? FindAccount(string hex)
    {
        lock (_lock)
        {
            ExpireDueLocked();
            return _accounts.TryGetValue(Id(Id(hex)), out var account) ? account.Clone() : null;
        }
    }

    public Transfer? FindTransfer(string hex)
    {
        lock (_lock)
        {
            ExpireDueLocked();
            return _transfers.TryGetValue(Id(Id(hex)), out var entry) ? entry.Committed.Clone() : null;
        }
    }

    public override Task<CreateAccountsResponse> CreateAccounts(CreateAccountsRequest request, ServerCallContext context)
    {
        ThrowIfUnavailable();
        var response = new CreateAccountsResponse();
        lock (_lock)
        {
            foreach (var account in request.Accounts)
            {
                response.Results.Add(CreateLocked(account));
            }
        }
        return Task.FromResult(response);
    }

    public override Task<SubmitTransfersResponse> SubmitTransfers(SubmitTransfersRequest request, ServerCallContext context)
    {
        ThrowIfUnavailable();
        var response = new SubmitTransfersResponse();
        lock (_lock)
        {
            ExpireDueLocked();
            foreach (var transfer in request.Transfers)
            {
                response.Results.Add(DecideLocked(transfer, request.IdNamespace));
            }
        }
        return Task.FromResult(response);
    }

    public override Task<GetAccountsResponse> GetAccounts(GetAccountsRequest request, ServerCallContext context)
    {
        ThrowIfUnavailable();
        var response = new GetAccountsResponse();
        lock (_lock)
        {
            ExpireDueLocked();
            foreach (var id in request.Ids)
            {
                if (_accounts.TryGetValue(Id(id), out var account))
                {
                    response.Accounts.Add(account.Clone());
                }
                else
                {
                    response.Missing.Add(id.Clone());
                }
            }
        }
        return Task.FromResult(response);
    }

    public override Task<GetTransfersResponse> GetTransfers(GetTransfersRequest request, ServerCallContext context)
    {
        ThrowIfUnavailable();
        var response = new GetTransfersResponse();
        lock (_lock)
        {
            ExpireDueLocked();
            foreach (var id in request.Ids)
            {
                if (_transfers.TryGetValue(Id(id), out var entry))
                {
                    response.Transfers.Add(entry.Committed.Clone());
                }
                else
                {
                    response.Missing.Add(id.Clone());
                }
            }
        }
        return Task.FromResult(response);
    }

    public override Task<ListAccountTransfersResponse> ListAccountTransfers(ListAccountTransfersRequest request, ServerCallContext context)
    {
        ThrowIfUnavailable();
        var limit = request.Limit == 0 ? ListLimitDefault : request.Limit;
        if (limit is < 1 or > ListLimitMax)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "limit out of range"));
        }
        var before = long.MaxValue;
        if (request.Cursor.Length > 0 && !long.TryParse(request.Cursor, NumberStyles.None, CultureInfo.InvariantCulture, out before))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "bad cursor"));
        }
        var accountId = Id(request.AccountId);
        var response = new ListAccountTransfersResponse();
        lock (_lock)
        {
            ExpireDueLocked();
            var matches = _committed
                .Where(t => t.Sequence < before && (Id(t.DebitAccountId) == accountId || Id(t.CreditAccountId) == accountId))
                .Where(t => request.SinceUnixMs <= 0 || t.TimestampUnixMs >= request.SinceUnixMs)
                .OrderByDescending(t => t.Sequence)
                .Take(limit + 1)
                .ToList();
            foreach (var transfer in matches.Take(limit))
            {
                response.Transfers.Add(transfer.Clone());
            }
            if (matches.Count > limit)
            {
                response.NextCursor = matches[limit - 1].Sequence.ToString(CultureInfo.InvariantCulture);
            }
        }
        return Task.FromResult(response);
    }

    private void ThrowIfUnavailable()
    {
        if (Unavailable)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "The fake ledger is down."));
        }
    }

    private long NowUnixMs() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private CreateAccountResult CreateLocked(Account account)
    {
        var id = Id(account.Id);
        var status = id == UInt128.Zero ? CreateAccountStatus.IdMustNotBeZero
            : (account.Flags & ~(uint)AccountFlags.DebitsMustNotExceedCredits) != 0 ? CreateAccountStatus.UnknownFlags
            : account.OverdraftLimit < 0 ? CreateAccountStatus.OverdraftLimitMustNotBeNegative
            : account.DebitsPending != 0 || account.DebitsPosted != 0 || account.CreditsPending != 0 || account.CreditsPosted != 0 ? CreateAccountStatus.BalancesMustBeZero
            : account.Currency.Length != 3 || !account.Currency.All(char.IsAsciiLetterUpper) ? CreateAccountStatus.UnknownCurrency
            : CreateAccountStatus.Ok;
        if (status != CreateAccountStatus.Ok)
        {
            return new CreateAccountResult { Status = status };
        }
        if (_accounts.TryGetValue(id, out var existing))
        {
            var same = existing.Currency == account.Currency && existing.Flags == account.Flags
                && existing.OverdraftLimit == account.OverdraftLimit && existing.Code == account.Code;
            return same
                ? new CreateAccountResult { Status = CreateAccountStatus.Ok, Duplicate = true }
                : new CreateAccountResult { Status = CreateAccountStatus.IdAlreadyUsedWithDifferentBody };
        }
        var created = account.Clone();
        created.CreatedAtUnixMs = NowUnixMs();
        _accounts[id] = created;
        return new CreateAccountResult { Status = CreateAccountStatus.Ok };
    }

    private static Transfer Body(Transfer transfer)
    {
        var body = transfer.Clone();
        body.TimestampUnixMs = 0;
        body.State = TransferState.Unspecified;
        body.PostedAmount = 0;
        body.ExpiresAtUnixMs = 0;
        body.Sequence = 0;
        return body;
    }

    private static TransferResult Refused(TransferStatus status) => new() { Status = status };

    private TransferResult DecideLocked(Transfer transfer, IdNamespace declared)
    {
        var id = Id(transfer.Id);
        if (id == UInt128.Zero)
        {
            return Refused(TransferStatus.IdMustNotBeZero);
        }
        if (_transfers.TryGetValue(id, out var existing))
        {
            return Body(existing.Request).Equals(Body(transfer))
                ? new TransferResult { Status = TransferStatus.Ok, Duplicate = true, Transfer = existing.Committed.Clone() }
                : Refused(TransferStatus.IdAlreadyUsedWithDifferentBody);
        }
        if (RequireNamespaces && (declared == IdNamespace.Unspecified || Uint128.NamespaceOf(id) != declared
            || (declared == IdNamespace.Customer && (transfer.Flags & (uint)TransferFlags.Force) != 0)))
        {
            return Refused(TransferStatus.IdNamespaceMismatch);
        }
        var flags = transfer.Flags;
        if ((flags & ~KnownTransferFlags) != 0 || BitOperations.PopCount(flags) > 1)
        {
            return Refused(TransferStatus.InvalidFlags);
        }
        if (transfer.Metadata.Count > MetadataEntriesMax || transfer.Metadata.Values.Any(value => System.Text.Encoding.UTF8.GetByteCount(value) > MetadataValueBytesMax))
        {
            return Refused(TransferStatus.MetadataTooLarge);
        }
        if (transfer.TimeoutSeconds != 0 && flags != (uint)TransferFlags.Pending)
        {
            return Refused(TransferStatus.TimeoutReservedForPending);
        }
        var result = flags is (uint)TransferFlags.PostPending or (uint)TransferFlags.VoidPending
            ? PostOrVoidLocked(transfer)
            : SinglePhaseOrHoldLocked(transfer);
        if (result.Status == TransferStatus.Ok)
        {
            _transfers[id] = (Body(transfer), result.Transfer);
            _committed.Add(result.Transfer);
            result = new TransferResult { Status = TransferStatus.Ok, Transfer = result.Transfer.Clone() };
        }
        return result;
    }

    private TransferResult SinglePhaseOrHoldLocked(Transfer transfer)
    {
        if (transfer.Amount <= 0)
        {
            return Refused(TransferStatus.AmountMustBePositive);
        }
        var debitId = Id(transfer.DebitAccountId);
        var creditId = Id(transfer.CreditAccountId);
        if (debitId == creditId)
        {
            return Refused(TransferStatus.AccountsMustBeDifferent);
        }
        if (!_accounts.TryGetValue(debitId, out var debit))
        {
            return Refused(TransferStatus.DebitAccountNotFound);
        }
        if (!_accounts.TryGetValue(creditId, out var credit))
        {
            return Refused(TransferStatus.CreditAccountNotFound);
        }
        if (transfer.Currency != debit.Currency || transfer.Currency != credit.Currency)
        {
            return Refused(TransferStatus.CurrencyMismatch);
        }
        if ((debit.Flags & (uint)AccountFlags.DebitsMustNotExceedCredits) != 0
            && debit.DebitsPending + debit.DebitsPosted + transfer.Amount > debit.CreditsPosted + debit.OverdraftLimit)
        {
            return Refused(TransferStatus.ExceedsCredits);
        }
        var committed = Stamp(Body(transfer));
        if (transfer.Flags == (uint)TransferFlags.Pending)
        {
            debit.DebitsPending += transfer.Amount;
            credit.CreditsPending += transfer.Amount;
            committed.State = TransferState.Pending;
            committed.ExpiresAtUnixMs = transfer.TimeoutSeconds == 0 ? 0 : committed.TimestampUnixMs + (transfer.TimeoutSeconds * 1000L);
        }
        else
        {
            debit.DebitsPosted += transfer.Amount;
            credit.CreditsPosted += transfer.Amount;
            committed.State = TransferState.Posted;
        }
        return new TransferResult { Status = TransferStatus.Ok, Transfer = committed };
    }

    private TransferResult PostOrVoidLocked(Transfer transfer)
    {
        if (!_transfers.TryGetValue(Id(transfer.PendingId), out var entry))
        {
            return Refused(TransferStatus.PendingTransferNotFound);
        }
        var hold = entry.Committed;
        if (hold.Flags != (uint)TransferFlags.Pending)
        {
            return Refused(TransferStatus.PendingTransferNotPending);
        }
        var stateStatus = hold.State switch
        {
            TransferState.HoldPosted => TransferStatus.PendingTransferAlreadyPosted,
            TransferState.Voided => TransferStatus.PendingTransferAlreadyVoided,
            TransferState.Expired => TransferStatus.PendingTransferExpired,
            _ => TransferStatus.Ok,
        };
        if (stateStatus != TransferStatus.Ok)
        {
            return Refused(stateStatus);
        }
        if ((Id(transfer.DebitAccountId) != UInt128.Zero && Id(transfer.DebitAccountId) != Id(hold.DebitAccountId))
            || (Id(transfer.CreditAccountId) != UInt128.Zero && Id(transfer.CreditAccountId) != Id(hold.CreditAccountId)))
        {
            return Refused(TransferStatus.PendingAccountsMismatch);
        }
        if (transfer.Amount < 0)
        {
            return Refused(TransferStatus.AmountMustBePositive);
        }
        var post = transfer.Flags == (uint)TransferFlags.PostPending;
        var amount = transfer.Amount == 0 ? hold.Amount : transfer.Amount;
        if (amount > hold.Amount || (!post && amount != hold.Amount))
        {
            return Refused(TransferStatus.ExceedsPendingTransferAmount);
        }
        var debit = _accounts[Id(hold.DebitAccountId)];
        var credit = _accounts[Id(hold.CreditAccountId)];
        debit.DebitsPending -= hold.Amount;
        credit.CreditsPending -= hold.Amount;
        if (post)
        {
            debit.DebitsPosted += amount;
            credit.CreditsPosted += amount;
            hold.State = TransferState.HoldPosted;
            hold.PostedAmount = amount;
        }
        else
        {
            hold.State = TransferState.Voided;
        }
        var committed = Stamp(Body(transfer));
        committed.DebitAccountId = hold.DebitAccountId.Clone();
        committed.CreditAccountId = hold.CreditAccountId.Clone();
        committed.Amount = amount;
        committed.Currency = hold.Currency;
        committed.State = TransferState.Posted;
        return new TransferResult { Status = TransferStatus.Ok, Transfer = committed };
    }

    private Transfer Stamp(Transfer transfer)
    {
        transfer.TimestampUnixMs = NowUnixMs();
        transfer.Sequence = ++_sequence;
        return transfer;
    }

    private void ExpireDueLocked()
    {
        var now = NowUnixMs();
        foreach (var hold in _committed)
        {
            if (hold.State == TransferState.Pending && hold.ExpiresAtUnixMs > 0 && hold.ExpiresAtUnixMs <= now)
            {
                _accounts[Id(hold.DebitAccountId)].DebitsPending -= hold.Amount;
                _accounts[Id(hold.CreditAccountId)].CreditsPending -= hold.Amount;
                hold.State = TransferState.Expired;
            }
        }
    }
}
