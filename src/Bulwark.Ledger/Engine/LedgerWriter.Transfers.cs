using System.Diagnostics;
using System.Numerics;
using System.Text;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger.Engine;

/// <summary>How the writer decides one transfer. Every status of the contract is decided here.</summary>
internal sealed partial class LedgerWriter
{
    private const TransferFlags KindFlags = TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;
    private const TransferFlags KnownTransferFlags = KindFlags | TransferFlags.Force;

    private LedgerTransferResult DecideTransfer(LedgerTransfer submitted, IReadOnlyDictionary<UInt128, LedgerAccount>? remoteAccounts)
    {
        // Which leg a row is, is the ledger's to decide, never the client's.
        var transfer = submitted.Leg == TransferLeg.Whole ? submitted : submitted with { Leg = TransferLeg.Whole };
        var status = CheckFields(transfer);
        if (status != TransferStatus.Ok)
        {
            return Declined(status);
        }
        // The row will live in the debit account's partition (a post's or void's: its hold's,
        // checked again below): a cell that does not serve it says so before anything else.
        if (transfer.DebitAccountId != UInt128.Zero && RefusalFor(transfer.DebitAccountId) is { } refusal)
        {
            return WrongOwner(refusal);
        }
        var existing = FindTransfer(transfer.Id);
        if (existing is not null)
        {
            if (!HasSameBody(transfer, existing.Transfer))
            {
                return Declined(TransferStatus.IdAlreadyUsedWithDifferentBody);
            }
            return _ownership.Refusal(existing.Transfer.PartitionOf(_options.PartitionCount)) is { } elsewhere
                ? WrongOwner(elsewhere)
                : new LedgerTransferResult(TransferStatus.Ok, Duplicate: true, existing.Transfer);
        }
        return transfer.IsPost || transfer.IsVoid ? DecidePostOrVoid(transfer) : DecideSinglePhaseOrHold(transfer, remoteAccounts);
    }

    /// <summary>The checks that need nothing but the transfer itself.</summary>
    private static TransferStatus CheckFields(LedgerTransfer transfer)
    {
        if (transfer.Id == UInt128.Zero)
        {
            return TransferStatus.IdMustNotBeZero;
        }
        if ((transfer.Flags & ~KnownTransferFlags) != 0 || BitOperations.PopCount((uint)(transfer.Flags & KindFlags)) > 1)
        {
            return TransferStatus.InvalidFlags;
        }
        var twoPhaseSecond = transfer.IsPost || transfer.IsVoid;
        // Force relaxes a debit's limit; a post or void debits nothing new.
        if (transfer.IsForced && twoPhaseSecond)
        {
            return TransferStatus.InvalidFlags;
        }
        // A pending id on a transfer that neither posts nor voids has no meaning the flags give it.
        if (transfer.PendingId != UInt128.Zero && !twoPhaseSecond)
        {
            return TransferStatus.InvalidFlags;
        }
        if (transfer.TimeoutSeconds != 0 && !transfer.IsHold)
        {
            return TransferStatus.TimeoutReservedForPending;
        }
        if (!MetadataFits(transfer.Metadata))
        {
            return TransferStatus.MetadataTooLarge;
        }
        if (twoPhaseSecond ? transfer.Amount < 0 : transfer.Amount <= 0)
        {
            return TransferStatus.AmountMustBePositive;
        }
        return TransferStatus.Ok;
    }

    private static bool MetadataFits(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return true;
        }
        if (metadata.Count > LedgerLimits.MetadataEntriesMax)
        {
            return false;
        }
        foreach (var (key, value) in metadata)
        {
            if (key is null || value is null
                || Encoding.UTF8.GetByteCount(key) > LedgerLimits.MetadataKeyBytesMax
                || Encoding.UTF8.GetByteCount(value) > LedgerLimits.MetadataValueBytesMax)
            {
                return false;
            }
        }
        return true;
    }

    private LedgerTransferResult DecideSinglePhaseOrHold(LedgerTransfer transfer, IReadOnlyDictionary<UInt128, LedgerAccount>? remoteAccounts)
    {
        if (transfer.DebitAccountId == transfer.CreditAccountId)
        {
            return Declined(TransferStatus.AccountsMustBeDifferent);
        }
        if (!Iso4217.IsActive(transfer.Currency))
        {
            return Declined(TransferStatus.UnknownCurrency);
        }
        if (!_accounts.TryGetValue(transfer.DebitAccountId, out var debit))
        {
            return Declined(TransferStatus.DebitAccountNotFound);
        }
        var creditSide = CreditSideOf(transfer.CreditAccountId, debit.Partition, remoteAccounts);
        if (creditSide.Currency is null)
        {
            return Declined(TransferStatus.CreditAccountNotFound);
        }
        if (debit.Currency != transfer.Currency || creditSide.Currency != transfer.Currency)
        {
            return Declined(TransferStatus.CurrencyMismatch);
        }
        var amount = transfer.Amount;
        var hold = transfer.IsHold;
        // The account the row credits: the credit account itself, or for a transfer between
        // partitions this partition's transit account (the credit leg does the rest).
        var credit = creditSide.IsSplit ? Transit(debit.Partition, transfer.Currency) : creditSide.Local!;
        // Int128 cannot overflow here: every operand is a long.
        if ((hold ? (Int128)debit.DebitsPending + amount : (Int128)debit.DebitsPosted + amount) > long.MaxValue
            || (Int128)debit.DebitsPending + debit.DebitsPosted + amount > long.MaxValue
            || (hold ? (Int128)credit.CreditsPending + amount : (Int128)credit.CreditsPosted + amount) > long.MaxValue
            || (Int128)credit.CreditsPending + credit.CreditsPosted + amount > long.MaxValue
            || (creditSide.IsSplit && !hold && creditSide.Local is { } local && !CreditLegFits(local, amount)))
        {
            return Declined(TransferStatus.Overflow);
        }
        if (debit.DebitsMustNotExceedCredits && !transfer.IsForced
            && (Int128)debit.DebitsPending + debit.DebitsPosted + amount > (Int128)debit.CreditsPosted + debit.Identity.OverdraftLimit)
        {
            return Declined(TransferStatus.ExceedsCredits);
        }

        Touch(debit);
        Touch(credit);
        if (transfer.IsForced)
        {
            debit.ForcedDebitsInBatch += amount;
        }
        if (hold)
        {
            debit.DebitsPending += amount;
            credit.CreditsPending += amount;
        }
        else
        {
            debit.DebitsPosted += amount;
            credit.CreditsPosted += amount;
        }
        var committed = transfer with
        {
            Metadata = CopyMetadata(transfer.Metadata),
            TimestampUnixMs = _now,
            Sequence = ++_sequence,
            State = hold ? TransferState.Pending : TransferState.Posted,
            PostedAmount = 0,
            ExpiresAtUnixMs = hold && transfer.TimeoutSeconds > 0 ? _now + (transfer.TimeoutSeconds * 1000L) : 0,
            Leg = creditSide.IsSplit ? TransferLeg.Debit : TransferLeg.Whole,
        };
        AddNew(committed, debit.Partition);
        if (creditSide.IsSplit && !hold)
        {
            EmitCreditLeg(committed, amount, debit.Partition, creditSide.Local);
        }
        return new LedgerTransferResult(TransferStatus.Ok, Duplicate: false, committed);
    }

    private LedgerTransferResult DecidePostOrVoid(LedgerTransfer transfer)
    {
        var entry = transfer.PendingId == UInt128.Zero ? null : FindTransfer(transfer.PendingId);
        if (entry is null)
        {
            // Only the owner of the hold's partition may say it does not exist; a post naming no
            // debit account cannot tell which partition that is unless this cell serves them all.
            return transfer.DebitAccountId == UInt128.Zero && !_ownership.ServesAll
                ? WrongOwner(new Cells.LedgerRefusal(-1, RefusalReason.NotOwner, "", 0))
                : Declined(TransferStatus.PendingTransferNotFound);
        }
        var hold = entry.Transfer;
        if (_ownership.Refusal(hold.PartitionOf(_options.PartitionCount)) is { } refusal)
        {
            return WrongOwner(refusal);
        }
        var status = CheckHoldFor(transfer, hold);
        if (status != TransferStatus.Ok)
        {
            return Declined(status);
        }
        if (hold.ExpiresAtUnixMs > 0 && hold.ExpiresAtUnixMs <= _now)
        {
            // Past its time but not yet swept: it expires now, in this batch, and the post or
            // void is too late — the same answer it would get a moment after the sweep.
            Expire(entry);
            return Declined(TransferStatus.PendingTransferExpired);
        }
        var debit = Account(hold.DebitAccountId);
        var credit = HoldCredit(hold, debit);
        var posted = transfer.IsPost ? (transfer.Amount == 0 ? hold.Amount : transfer.Amount) : 0;
        var creditLeg = hold.Leg == TransferLeg.Debit && posted > 0;
        var localCredit = creditLeg ? LocalCreditForLeg(hold.CreditAccountId) : null;
        if ((Int128)debit.DebitsPosted + posted > long.MaxValue || (Int128)credit.CreditsPosted + posted > long.MaxValue
            || (localCredit is not null && !CreditLegFits(localCredit, posted)))
        {
            return Declined(TransferStatus.Overflow);
        }

        Touch(debit);
        Touch(credit);
        debit.DebitsPending -= hold.Amount;
        credit.CreditsPending -= hold.Amount;
        debit.DebitsPosted += posted;
        credit.CreditsPosted += posted;
        Change(entry, hold with
        {
            State = transfer.IsPost ? TransferState.HoldPosted : TransferState.Voided,
            PostedAmount = posted,
        });
        var committed = Resolve(transfer, hold) with
        {
            Metadata = CopyMetadata(transfer.Metadata),
            TimestampUnixMs = _now,
            Sequence = ++_sequence,
            State = TransferState.Posted,
            PostedAmount = 0,
            ExpiresAtUnixMs = 0,
            Leg = hold.Leg,
        };
        AddNew(committed, debit.Partition);
        if (creditLeg)
        {
            EmitCreditLeg(committed, posted, debit.Partition, localCredit);
        }
        return new LedgerTransferResult(TransferStatus.Ok, Duplicate: false, committed);
    }

    /// <summary>Whether <paramref name="transfer"/> may post or void <paramref name="hold"/> (expiry aside).</summary>
    private static TransferStatus CheckHoldFor(LedgerTransfer transfer, LedgerTransfer hold)
    {
        if (!hold.IsHold)
        {
            return TransferStatus.PendingTransferNotPending;
        }
        switch (hold.State)
        {
            case TransferState.HoldPosted:
                return TransferStatus.PendingTransferAlreadyPosted;
            case TransferState.Voided:
                return TransferStatus.PendingTransferAlreadyVoided;
            case TransferState.Expired:
                return TransferStatus.PendingTransferExpired;
            case TransferState.Pending:
                break;
            default:
                throw new UnreachableException($"Hold {hold.Id:x32} is in state {hold.State}.");
        }
        if ((transfer.DebitAccountId != UInt128.Zero && transfer.DebitAccountId != hold.DebitAccountId)
            || (transfer.CreditAccountId != UInt128.Zero && transfer.CreditAccountId != hold.CreditAccountId))
        {
            return TransferStatus.PendingAccountsMismatch;
        }
        if (transfer.Currency.Length > 0 && !Iso4217.IsActive(transfer.Currency))
        {
            return TransferStatus.UnknownCurrency;
        }
        if (transfer.Currency.Length > 0 && transfer.Currency != hold.Currency)
        {
            return TransferStatus.CurrencyMismatch;
        }
        // A post may take less than the hold; a void releases all of it (0 or the held amount).
        if (transfer.IsPost ? transfer.Amount > hold.Amount : transfer.Amount != 0 && transfer.Amount != hold.Amount)
        {
            return TransferStatus.ExceedsPendingTransferAmount;
        }
        return TransferStatus.Ok;
    }

    /// <summary>
    /// A post or void with the fields the client may leave unset filled from its hold: the
    /// accounts, the currency, the code, and the amount (a post's 0 is the full hold; a void
    /// records the amount it released).
    /// </summary>
    private static LedgerTransfer Resolve(LedgerTransfer transfer, LedgerTransfer hold) => transfer with
    {
        DebitAccountId = hold.DebitAccountId,
        CreditAccountId = hold.CreditAccountId,
        Currency = hold.Currency,
        Code = transfer.Code == 0 ? hold.Code : transfer.Code,
        Amount = transfer.IsPost && transfer.Amount != 0 ? transfer.Amount : hold.Amount,
    };

    /// <summary>
    /// Same id, same body: every client-set field equal. For a post or void the fields it may leave
    /// unset are compared as resolved against its hold, so that a retry sending the same request
    /// is recognised even though the stored transfer carries the hold's accounts and amount.
    /// </summary>
    private bool HasSameBody(LedgerTransfer incoming, LedgerTransfer stored)
    {
        if (incoming.Flags != stored.Flags || incoming.PendingId != stored.PendingId
            || incoming.TimeoutSeconds != stored.TimeoutSeconds
            || !LedgerTransfer.MetadataEquals(incoming.Metadata ?? LedgerTransfer.NoMetadata, stored.Metadata))
        {
            return false;
        }
        if (incoming.IsPost || incoming.IsVoid)
        {
            var hold = FindTransfer(stored.PendingId)?.Transfer
                ?? throw new UnreachableException($"Transfer {stored.Id:x32} names hold {stored.PendingId:x32}, which does not exist.");
            if ((incoming.DebitAccountId != UInt128.Zero && incoming.DebitAccountId != hold.DebitAccountId)
                || (incoming.CreditAccountId != UInt128.Zero && incoming.CreditAccountId != hold.CreditAccountId)
                || (incoming.Currency.Length > 0 && incoming.Currency != hold.Currency)
                || (incoming.IsVoid && incoming.Amount != 0 && incoming.Amount != hold.Amount))
            {
                return false;
            }
            incoming = Resolve(incoming, hold);
        }
        return incoming.DebitAccountId == stored.DebitAccountId && incoming.CreditAccountId == stored.CreditAccountId
            && incoming.Amount == stored.Amount && incoming.Currency == stored.Currency && incoming.Code == stored.Code;
    }

    /// <summary>Releases a pending hold's amounts and marks it expired, in this batch.</summary>
    private void Expire(TransferEntry entry)
    {
        var hold = entry.Transfer;
        Debug.Assert(hold.State == TransferState.Pending, "Only a pending hold expires.");
        var debit = Account(hold.DebitAccountId);
        var credit = HoldCredit(hold, debit);
        Touch(debit);
        Touch(credit);
        debit.DebitsPending -= hold.Amount;
        credit.CreditsPending -= hold.Amount;
        Change(entry, hold with { State = TransferState.Expired });
        _metrics.HoldExpired();
    }

    /// <summary>Expires the holds whose time has passed, oldest first, up to the sweep limit.</summary>
    private void ExpireDueHolds()
    {
        var due = _store.FindExpiredHolds(_now, LedgerLimits.ExpiriesPerSweepMax, _copiesNotServed);
        foreach (var stored in due)
        {
            // A copy of a partition this cell does not serve is not this cell's to change.
            if (!_ownership.Serves(stored.PartitionOf(_options.PartitionCount)))
            {
                continue;
            }
            var entry = Cached(stored);
            if (entry.Transfer.State == TransferState.Pending)
            {
                Expire(entry);
            }
        }
        if (due.Count == LedgerLimits.ExpiriesPerSweepMax)
        {
            _sweepAgain = true;
        }
    }

    /// <summary>A transfer as this batch sees it: its own changes first, then the store.</summary>
    private TransferEntry? FindTransfer(UInt128 id)
    {
        if (_transfers.TryGetValue(id, out var entry))
        {
            return entry;
        }
        var stored = _store.FindTransfer(id);
        return stored is null ? null : Cached(stored);
    }

    private TransferEntry Cached(LedgerTransfer stored)
    {
        if (_transfers.TryGetValue(stored.Id, out var entry))
        {
            return entry;
        }
        entry = new TransferEntry(stored, partition: 0, isNew: false);
        _transfers.Add(stored.Id, entry);
        return entry;
    }

    private void AddNew(LedgerTransfer transfer, int partition)
    {
        var entry = new TransferEntry(transfer, partition, isNew: true);
        _transfers.Add(transfer.Id, entry);
        _newTransfers.Add(entry);
    }

    private void Change(TransferEntry entry, LedgerTransfer changed)
    {
        entry.Transfer = changed;
        if (!entry.IsNew && !entry.IsChanged)
        {
            entry.IsChanged = true;
            _changedHolds.Add(entry);
        }
    }

    private AccountState Account(UInt128 id) =>
        _accounts.TryGetValue(id, out var account)
            ? account
            : throw new UnreachableException($"Account {id:x32} of a committed hold does not exist.");

    private static IReadOnlyDictionary<string, string> CopyMetadata(IReadOnlyDictionary<string, string>? metadata) =>
        metadata is null || metadata.Count == 0
            ? LedgerTransfer.NoMetadata
            : new Dictionary<string, string>(metadata, StringComparer.Ordinal);

    private static LedgerTransferResult Declined(TransferStatus status) => new(status, Duplicate: false, Transfer: null);

    private static LedgerTransferResult WrongOwner(Cells.LedgerRefusal refusal) =>
        new(TransferStatus.WrongOwner, Duplicate: false, Transfer: null) { Refusal = refusal };
}
