using System.Globalization;
using Bulwark.EventLog;
using Bulwark.Ledger.Grpc;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Google.Protobuf;

namespace Bulwark.Ledger.Events;

/// <summary>
/// Reads the ledger's events back (docs/internals/event-log.md, "The ledger's events") for replay
/// and verification: checks that a record is one this code may apply — its kind and format version
/// known, its rows all in its partition, and its cell the partition's writer (a change of writer
/// only at a move's event naming the cell before) — and maps its row images to the store's records.
/// Anything else is refused naming the record, never skipped.
/// </summary>
public static class LedgerEventDecoder
{
    /// <summary>
    /// The record's change, checked. <paramref name="previousCell"/> is the cell of the partition's
    /// previous record (null for its first).
    /// </summary>
    public static PartitionChange Decode(EventRecord record, int partitionCount, string? previousCell)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Kind != (int)LedgerEventKind.PartitionChange)
        {
            throw Refused(record, string.Create(CultureInfo.InvariantCulture, $"is of kind {record.Kind}, which this version does not know"));
        }
        PartitionChange change;
        try
        {
            change = PartitionChange.Parser.ParseFrom(record.Payload.Span);
        }
        catch (InvalidProtocolBufferException error)
        {
            throw Refused(record, $"cannot be read as a ledger change ({error.Message})");
        }
        if (change.FormatVersion != LedgerEventFormat.Version)
        {
            throw Refused(record, string.Create(CultureInfo.InvariantCulture,
                $"has format version {change.FormatVersion}; this version reads only {LedgerEventFormat.Version}"));
        }
        if (change.Partition != (uint)record.Partition)
        {
            throw Refused(record, string.Create(CultureInfo.InvariantCulture, $"carries a change of partition {change.Partition}: it does not belong here"));
        }
        if (previousCell is not null && !string.Equals(previousCell, record.Cell, StringComparison.Ordinal)
            && change.Moved?.FromCell != previousCell)
        {
            throw Refused(record, $"was written by cell '{record.Cell}' after cell '{previousCell}' wrote the one before, with no move between them: it does not belong to this partition's history");
        }
        CheckRows(record, change, partitionCount);
        return change;
    }

    private static void CheckRows(EventRecord record, PartitionChange change, int partitionCount)
    {
        foreach (var account in change.AccountsCreated)
        {
            CheckPartition(record, LedgerPartitioner.PartitionOf(account.Id.ToUInt128(), partitionCount), "account", account.Id.ToUInt128());
        }
        foreach (var balances in change.Balances)
        {
            CheckPartition(record, LedgerPartitioner.PartitionOf(balances.Id.ToUInt128(), partitionCount), "account", balances.Id.ToUInt128());
        }
        foreach (var transfer in change.TransfersWritten.Concat(change.HoldsChanged))
        {
            CheckPartition(record, ToRow(transfer).PartitionOf(partitionCount), "transfer", transfer.Id.ToUInt128());
        }
        // An owed leg is recorded in the debit partition, the event's own; the leg itself is the credit
        // partition's row (transit account to credit account), so it has no partition of this one to check.
    }

    private static void CheckPartition(EventRecord record, int partition, string what, UInt128 id)
    {
        if (partition != record.Partition)
        {
            throw Refused(record, string.Create(CultureInfo.InvariantCulture,
                $"holds {what} {id:x32} of partition {partition}: it does not belong here"));
        }
    }

    /// <summary>The refusal naming <paramref name="record"/>.</summary>
    public static LedgerReplayException Refused(EventRecord record, string why)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new LedgerReplayException(string.Create(CultureInfo.InvariantCulture,
            $"the event log's record at partition {record.Partition} sequence {record.Sequence} (cell '{record.Cell}' sequence {record.CellSequence}) {why}. Nothing after it was applied."));
    }

    /// <summary>A transfer row image as the store holds it (every column, the writer's sequence included).</summary>
    public static LedgerTransfer ToRow(Transfer transfer)
    {
        ArgumentNullException.ThrowIfNull(transfer);
        return transfer.ToLedger() with
        {
            TimestampUnixMs = transfer.TimestampUnixMs,
            State = transfer.State,
            PostedAmount = transfer.PostedAmount,
            ExpiresAtUnixMs = transfer.ExpiresAtUnixMs,
            Sequence = transfer.Sequence,
        };
    }

    /// <summary>An account row image as the store holds it (zero balances when created).</summary>
    public static LedgerAccount ToRow(Account account)
    {
        ArgumentNullException.ThrowIfNull(account);
        return account.ToLedger() with { CreatedAtUnixMs = account.CreatedAtUnixMs };
    }

    /// <summary><paramref name="account"/> with the balances of <paramref name="balances"/>.</summary>
    public static LedgerAccount WithBalances(LedgerAccount account, AccountBalances balances)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(balances);
        return account with
        {
            DebitsPending = balances.DebitsPending,
            DebitsPosted = balances.DebitsPosted,
            CreditsPending = balances.CreditsPending,
            CreditsPosted = balances.CreditsPosted,
        };
    }

    /// <summary>The owed leg's state after a settlement.</summary>
    public static OwedLegState ToState(OwedLegOutcome outcome) =>
        outcome == OwedLegOutcome.Returned ? OwedLegState.Returned : OwedLegState.Delivered;
}
