using System.Text;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Tests.Properties;

/// <summary>
/// A deliberately plain model of the ledger's rules: one transfer at a time, no batches, no
/// store, no caching. The property tests check that the engine's answers and balances equal it.
/// </summary>
public sealed class LedgerModel
{
    public sealed class Account
    {
        public required string Currency { get; init; }

        public required AccountFlags Flags { get; init; }

        public required long Overdraft { get; init; }

        public required uint Code { get; init; }

        public long DebitsPending { get; set; }

        public long DebitsPosted { get; set; }

        public long CreditsPending { get; set; }

        public long CreditsPosted { get; set; }

        public bool Limited => (Flags & AccountFlags.DebitsMustNotExceedCredits) != 0;
    }

    public Dictionary<UInt128, Account> Accounts { get; } = [];

    public Dictionary<UInt128, LedgerTransfer> Transfers { get; } = [];

    public long NowUnixMs { get; set; }

    public CreateAccountStatus CreateAccount(LedgerAccount request, out bool duplicate)
    {
        duplicate = false;
        if (request.Id == 0)
        {
            return CreateAccountStatus.IdMustNotBeZero;
        }
        if (!Iso4217.IsActive(request.Currency))
        {
            return CreateAccountStatus.UnknownCurrency;
        }
        if (Accounts.TryGetValue(request.Id, out var existing))
        {
            duplicate = existing.Currency == request.Currency && existing.Flags == request.Flags
                && existing.Overdraft == request.OverdraftLimit && existing.Code == request.Code;
            return duplicate ? CreateAccountStatus.Ok : CreateAccountStatus.IdAlreadyUsedWithDifferentBody;
        }
        Accounts[request.Id] = new Account { Currency = request.Currency, Flags = request.Flags, Overdraft = request.OverdraftLimit, Code = request.Code };
        return CreateAccountStatus.Ok;
    }

    public (TransferStatus Status, bool Duplicate) Submit(LedgerTransfer t)
    {
        var kinds = new[] { TransferFlags.Pending, TransferFlags.PostPending, TransferFlags.VoidPending }.Count(f => (t.Flags & f) != 0);
        var second = t.IsPost || t.IsVoid;
        if (t.Id == 0)
        {
            return (TransferStatus.IdMustNotBeZero, false);
        }
        if ((t.Flags & ~(TransferFlags)15) != 0 || kinds > 1 || (t.PendingId != 0 && !second) || (second && (t.Flags & TransferFlags.Force) != 0))
        {
            return (TransferStatus.InvalidFlags, false);
        }
        if (t.TimeoutSeconds != 0 && !t.IsHold)
        {
            return (TransferStatus.TimeoutReservedForPending, false);
        }
        if (t.Metadata.Count > LedgerLimits.MetadataEntriesMax || t.Metadata.Any(p => Encoding.UTF8.GetByteCount(p.Value) > LedgerLimits.MetadataValueBytesMax))
        {
            return (TransferStatus.MetadataTooLarge, false);
        }
        if (second ? t.Amount < 0 : t.Amount <= 0)
        {
            return (TransferStatus.AmountMustBePositive, false);
        }
        if (Transfers.TryGetValue(t.Id, out var existing))
        {
            return SameBody(t, existing) ? (TransferStatus.Ok, true) : (TransferStatus.IdAlreadyUsedWithDifferentBody, false);
        }
        return (second ? PostOrVoid(t) : SinglePhaseOrHold(t), false);
    }

    private TransferStatus SinglePhaseOrHold(LedgerTransfer t)
    {
        if (t.DebitAccountId == t.CreditAccountId)
        {
            return TransferStatus.AccountsMustBeDifferent;
        }
        if (!Iso4217.IsActive(t.Currency))
        {
            return TransferStatus.UnknownCurrency;
        }
        if (!Accounts.TryGetValue(t.DebitAccountId, out var debit))
        {
            return TransferStatus.DebitAccountNotFound;
        }
        if (!Accounts.TryGetValue(t.CreditAccountId, out var credit))
        {
            return TransferStatus.CreditAccountNotFound;
        }
        if (debit.Currency != t.Currency || credit.Currency != t.Currency)
        {
            return TransferStatus.CurrencyMismatch;
        }
        var a = (decimal)t.Amount;
        if ((t.IsHold ? debit.DebitsPending + a : debit.DebitsPosted + a) > long.MaxValue
            || debit.DebitsPending + (decimal)debit.DebitsPosted + a > long.MaxValue
            || (t.IsHold ? credit.CreditsPending + a : credit.CreditsPosted + a) > long.MaxValue
            || credit.CreditsPending + (decimal)credit.CreditsPosted + a > long.MaxValue)
        {
            return TransferStatus.Overflow;
        }
        if (debit.Limited && (t.Flags & TransferFlags.Force) == 0 && debit.DebitsPending + (decimal)debit.DebitsPosted + a > debit.CreditsPosted + (decimal)debit.Overdraft)
        {
            return TransferStatus.ExceedsCredits;
        }
        if (t.IsHold)
        {
            debit.DebitsPending += t.Amount;
            credit.CreditsPending += t.Amount;
        }
        else
        {
            debit.DebitsPosted += t.Amount;
            credit.CreditsPosted += t.Amount;
        }
        Transfers[t.Id] = t with
        {
            State = t.IsHold ? TransferState.Pending : TransferState.Posted,
            ExpiresAtUnixMs = t.IsHold && t.TimeoutSeconds > 0 ? NowUnixMs + (t.TimeoutSeconds * 1000L) : 0,
        };
        return TransferStatus.Ok;
    }

    private TransferStatus PostOrVoid(LedgerTransfer t)
    {
        if (t.PendingId == 0 || !Transfers.TryGetValue(t.PendingId, out var hold))
        {
            return TransferStatus.PendingTransferNotFound;
        }
        if (!hold.IsHold)
        {
            return TransferStatus.PendingTransferNotPending;
        }
        if (hold.State != TransferState.Pending)
        {
            return hold.State switch
            {
                TransferState.HoldPosted => TransferStatus.PendingTransferAlreadyPosted,
                TransferState.Voided => TransferStatus.PendingTransferAlreadyVoided,
                _ => TransferStatus.PendingTransferExpired,
            };
        }
        if ((t.DebitAccountId != 0 && t.DebitAccountId != hold.DebitAccountId) || (t.CreditAccountId != 0 && t.CreditAccountId != hold.CreditAccountId))
        {
            return TransferStatus.PendingAccountsMismatch;
        }
        if (t.Currency != "" && !Iso4217.IsActive(t.Currency))
        {
            return TransferStatus.UnknownCurrency;
        }
        if (t.Currency != "" && t.Currency != hold.Currency)
        {
            return TransferStatus.CurrencyMismatch;
        }
        if (t.IsPost ? t.Amount > hold.Amount : t.Amount != 0 && t.Amount != hold.Amount)
        {
            return TransferStatus.ExceedsPendingTransferAmount;
        }
        if (hold.ExpiresAtUnixMs > 0 && hold.ExpiresAtUnixMs <= NowUnixMs)
        {
            Expire(hold);
            return TransferStatus.PendingTransferExpired;
        }
        var posted = t.IsPost ? (t.Amount == 0 ? hold.Amount : t.Amount) : 0;
        var debit = Accounts[hold.DebitAccountId];
        var credit = Accounts[hold.CreditAccountId];
        if ((decimal)debit.DebitsPosted + posted > long.MaxValue || (decimal)credit.CreditsPosted + posted > long.MaxValue)
        {
            return TransferStatus.Overflow;
        }
        debit.DebitsPending -= hold.Amount;
        credit.CreditsPending -= hold.Amount;
        debit.DebitsPosted += posted;
        credit.CreditsPosted += posted;
        Transfers[hold.Id] = hold with { State = t.IsPost ? TransferState.HoldPosted : TransferState.Voided, PostedAmount = posted };
        Transfers[t.Id] = Resolve(t, hold) with { State = TransferState.Posted };
        return TransferStatus.Ok;
    }

    /// <summary>The debits on an account that came from forced transfers and still count (posted, held, or posted from a forced hold).</summary>
    public decimal ForcedOutstanding(UInt128 account) => ForcedOutstanding(Transfers.Values, account);

    /// <summary>The same, over transfers as the engine returns them.</summary>
    public static decimal ForcedOutstanding(IEnumerable<LedgerTransfer> transfers, UInt128 account) =>
        transfers
            .Where(t => (t.Flags & TransferFlags.Force) != 0 && t.DebitAccountId == account)
            .Sum(t => t.State switch
            {
                TransferState.Posted or TransferState.Pending => (decimal)t.Amount,
                TransferState.HoldPosted => t.PostedAmount,
                _ => 0m,
            });

    public void ExpireDue()
    {
        foreach (var hold in Transfers.Values.Where(h => h.IsHold && h.State == TransferState.Pending && h.ExpiresAtUnixMs > 0 && h.ExpiresAtUnixMs <= NowUnixMs).ToArray())
        {
            Expire(hold);
        }
    }

    private void Expire(LedgerTransfer hold)
    {
        Accounts[hold.DebitAccountId].DebitsPending -= hold.Amount;
        Accounts[hold.CreditAccountId].CreditsPending -= hold.Amount;
        Transfers[hold.Id] = hold with { State = TransferState.Expired };
    }

    private static LedgerTransfer Resolve(LedgerTransfer t, LedgerTransfer hold) => t with
    {
        DebitAccountId = hold.DebitAccountId,
        CreditAccountId = hold.CreditAccountId,
        Currency = hold.Currency,
        Code = t.Code == 0 ? hold.Code : t.Code,
        Amount = t.IsPost && t.Amount != 0 ? t.Amount : hold.Amount,
    };

    private bool SameBody(LedgerTransfer t, LedgerTransfer stored)
    {
        if (t.Flags != stored.Flags || t.PendingId != stored.PendingId || t.TimeoutSeconds != stored.TimeoutSeconds
            || !LedgerTransfer.MetadataEquals(t.Metadata, stored.Metadata))
        {
            return false;
        }
        if (t.IsPost || t.IsVoid)
        {
            var hold = Transfers[stored.PendingId];
            if ((t.DebitAccountId != 0 && t.DebitAccountId != hold.DebitAccountId) || (t.CreditAccountId != 0 && t.CreditAccountId != hold.CreditAccountId)
                || (t.Currency != "" && t.Currency != hold.Currency) || (t.IsVoid && t.Amount != 0 && t.Amount != hold.Amount))
            {
                return false;
            }
            t = Resolve(t, hold);
        }
        return t.DebitAccountId == stored.DebitAccountId && t.CreditAccountId == stored.CreditAccountId
            && t.Amount == stored.Amount && t.Currency == stored.Currency && t.Code == stored.Code;
    }
}
