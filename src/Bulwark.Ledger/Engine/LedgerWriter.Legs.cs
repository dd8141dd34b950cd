using System.Diagnostics;
using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Engine;

/// <summary>
/// Transfers between partitions (docs/internals/cells.md): the debit leg books the credit side to
/// the debit partition's transit account; the credit leg books the credit partition's transit
/// account to the credit account — in the same batch when this cell serves the credit partition,
/// otherwise owed (a durable record in the debit partition) and delivered by
/// <see cref="CreditLegDelivery"/>.
/// </summary>
internal sealed partial class LedgerWriter
{
    private CellOwnership _ownership = null!;

    /// <summary>What this cell owns; set at load, swapped whole by ownership changes.</summary>
    public CellOwnership Ownership
    {
        get => Volatile.Read(ref _ownership);
        set => Volatile.Write(ref _ownership, value);
    }

    /// <summary>Where a transfer's credit goes, seen from the debit partition.</summary>
    /// <param name="Currency">The credit account's currency; null when it does not exist.</param>
    /// <param name="Local">The credit account when this cell serves its partition.</param>
    /// <param name="IsSplit">True when the credit account is in another partition.</param>
    private readonly record struct CreditSide(string? Currency, AccountState? Local, bool IsSplit);

    private CreditSide CreditSideOf(UInt128 creditId, int debitPartition, IReadOnlyDictionary<UInt128, LedgerAccount>? remoteAccounts)
    {
        var creditPartition = LedgerPartitioner.PartitionOf(creditId, _options.PartitionCount);
        var split = creditPartition != debitPartition;
        if (!split || _ownership.Serves(creditPartition))
        {
            return _accounts.TryGetValue(creditId, out var local) ? new CreditSide(local.Currency, local, split) : new CreditSide(null, null, split);
        }
        // Another cell's account, looked up with its owner before the submission was queued.
        return remoteAccounts is not null && remoteAccounts.TryGetValue(creditId, out var remote)
            ? new CreditSide(remote.Currency, null, IsSplit: true)
            : new CreditSide(null, null, IsSplit: true);
    }

    /// <summary>The account a hold's row credits: the credit account, or the debit partition's transit for a debit leg.</summary>
    private AccountState HoldCredit(LedgerTransfer hold, AccountState debit) =>
        hold.Leg == TransferLeg.Debit ? Transit(debit.Partition, hold.Currency) : Account(hold.CreditAccountId);

    /// <summary>The credit account of a credit leg written in this batch, or null when the leg is owed to another cell.</summary>
    private AccountState? LocalCreditForLeg(UInt128 creditId) =>
        _ownership.Serves(LedgerPartitioner.PartitionOf(creditId, _options.PartitionCount)) && _accounts.TryGetValue(creditId, out var credit)
            ? credit
            : null;

    private bool CreditLegFits(AccountState credit, long amount)
    {
        var transit = Transit(credit.Partition, credit.Currency);
        return (Int128)credit.CreditsPosted + amount <= long.MaxValue
            && (Int128)credit.CreditsPending + credit.CreditsPosted + amount <= long.MaxValue
            && (Int128)transit.DebitsPosted + amount <= long.MaxValue
            && (Int128)transit.DebitsPending + transit.DebitsPosted + amount <= long.MaxValue;
    }

    /// <summary>The transit account of a partition for a currency, created in this batch on first use.</summary>
    private AccountState Transit(int partition, string currency)
    {
        var id = TransitAccounts.IdOf(partition, currency, _options.PartitionCount);
        if (_accounts.TryGetValue(id, out var transit))
        {
            return transit;
        }
        var created = TransitAccounts.NewAccount(id, currency, _now);
        transit = new AccountState(created, partition);
        _accounts.Add(id, transit);
        _commit.NewAccounts.Add(new Partitioned<LedgerAccount>(partition, created));
        NoteChanged(partition);
        return transit;
    }

    /// <summary>
    /// The credit leg of <paramref name="source"/> (a single-phase debit leg, or the post of a
    /// split hold) for <paramref name="amount"/>: written now when this cell serves the credit
    /// account, else recorded as owed in the debit partition.
    /// </summary>
    private void EmitCreditLeg(LedgerTransfer source, long amount, int debitPartition, AccountState? localCredit)
    {
        var leg = new LedgerTransfer
        {
            Id = source.Id,
            DebitAccountId = source.DebitAccountId,
            CreditAccountId = source.CreditAccountId,
            Amount = amount,
            Currency = source.Currency,
            Code = source.Code,
            Metadata = source.Metadata,
            TimestampUnixMs = _now,
            State = TransferState.Posted,
            Leg = TransferLeg.Credit,
        };
        if (localCredit is null)
        {
            _commit.NewOwedLegs.Add(new OwedCreditLeg(debitPartition, leg, OwedLegState.Owed));
            NoteChanged(debitPartition);
            _metrics.CreditLegOwed();
            return;
        }
        WriteCreditLeg(leg, localCredit);
    }

    private LedgerTransfer WriteCreditLeg(LedgerTransfer leg, AccountState credit)
    {
        var transit = Transit(credit.Partition, leg.Currency);
        Touch(transit);
        Touch(credit);
        transit.DebitsPosted += leg.Amount;
        credit.CreditsPosted += leg.Amount;
        var committed = leg with { TimestampUnixMs = _now, Sequence = ++_sequence, State = TransferState.Posted, Leg = TransferLeg.Credit };
        AddLeg(committed, credit.Partition);
        return committed;
    }

    /// <summary>A credit leg another cell delivered (ApplyCreditLegs): written once, a redelivery answers duplicate.</summary>
    private LedgerTransferResult DecideCreditLeg(LedgerTransfer leg)
    {
        if (leg.Id == UInt128.Zero)
        {
            return Declined(TransferStatus.IdMustNotBeZero);
        }
        if (leg.Amount <= 0)
        {
            return Declined(TransferStatus.AmountMustBePositive);
        }
        if (leg.Flags != TransferFlags.None || leg.PendingId != UInt128.Zero || leg.TimeoutSeconds != 0)
        {
            return Declined(TransferStatus.InvalidFlags);
        }
        if (!MetadataFits(leg.Metadata))
        {
            return Declined(TransferStatus.MetadataTooLarge);
        }
        if (RefusalFor(leg.CreditAccountId) is { } refusal)
        {
            return WrongOwner(refusal);
        }
        if (FindCreditLeg(leg.Id) is { } existing)
        {
            return existing.DebitAccountId == leg.DebitAccountId && existing.CreditAccountId == leg.CreditAccountId
                && existing.Amount == leg.Amount && existing.Currency == leg.Currency
                ? new LedgerTransferResult(TransferStatus.Ok, Duplicate: true, existing)
                : Declined(TransferStatus.IdAlreadyUsedWithDifferentBody);
        }
        if (!_accounts.TryGetValue(leg.CreditAccountId, out var credit))
        {
            return Declined(TransferStatus.CreditAccountNotFound);
        }
        if (!Iso4217.IsActive(leg.Currency))
        {
            return Declined(TransferStatus.UnknownCurrency);
        }
        if (credit.Currency != leg.Currency)
        {
            return Declined(TransferStatus.CurrencyMismatch);
        }
        if (!CreditLegFits(credit, leg.Amount))
        {
            return Declined(TransferStatus.Overflow);
        }
        var committed = WriteCreditLeg(leg with { Metadata = CopyMetadata(leg.Metadata) }, credit);
        return new LedgerTransferResult(TransferStatus.Ok, Duplicate: false, committed);
    }

    /// <summary>
    /// Settles an owed credit leg: delivered (acknowledged by the credit account's cell), or
    /// returned — the money goes back from the debit partition's transit to the debit account,
    /// a RETURN leg with the transfer's id. Settling twice (a redelivery after a crash) changes nothing.
    /// </summary>
    private void DecideSettlement(OwedCreditLeg owed, OwedLegState outcome)
    {
        Debug.Assert(outcome is OwedLegState.Delivered or OwedLegState.Returned, "A settlement delivers or returns.");
        if (!_ownership.Serves(owed.Partition) || _settledInBatch.Contains(owed.Leg.Id))
        {
            return;
        }
        _settledInBatch.Add(owed.Leg.Id);
        if (outcome == OwedLegState.Returned && _store.FindLeg(owed.Leg.Id, TransferLeg.Return) is null
            && _accounts.TryGetValue(owed.Leg.DebitAccountId, out var debit))
        {
            var transit = Transit(owed.Partition, owed.Leg.Currency);
            Touch(transit);
            Touch(debit);
            transit.DebitsPosted += owed.Leg.Amount;
            debit.CreditsPosted += owed.Leg.Amount;
            AddLeg(owed.Leg with { TimestampUnixMs = _now, Sequence = ++_sequence, State = TransferState.Posted, Leg = TransferLeg.Return }, owed.Partition);
            _metrics.CreditLegReturned();
        }
        _commit.SettledOwedLegs.Add((owed.Leg.Id, outcome));
        NoteChanged(owed.Partition);
        _settledPartitions.Add(owed.Partition);
    }

    private LedgerTransfer? FindCreditLeg(UInt128 id) =>
        _legs.TryGetValue(id, out var entry) ? entry.Transfer : _store.FindLeg(id, TransferLeg.Credit);

    private void AddLeg(LedgerTransfer leg, int partition)
    {
        var entry = new TransferEntry(leg, partition, isNew: true);
        if (leg.Leg == TransferLeg.Credit)
        {
            _legs.Add(leg.Id, entry);
        }
        _newTransfers.Add(entry);
    }

    /// <summary>Null when this cell serves the account's partition; else why not.</summary>
    private LedgerRefusal? RefusalFor(UInt128 accountId) =>
        _ownership.Refusal(LedgerPartitioner.PartitionOf(accountId, _options.PartitionCount));
}
