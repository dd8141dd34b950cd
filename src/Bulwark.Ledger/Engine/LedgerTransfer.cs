using System.Collections.Frozen;
using Bulwark.Ledger.Protos;

namespace Bulwark.Ledger;

/// <summary>
/// A transfer as the engine and its store see it: the client-set fields, then the fields the
/// ledger sets on commit (ignored on submit). Immutable, so that a committed transfer handed to a
/// caller can never change the writer's view of it; equality compares metadata by content.
/// </summary>
public sealed record LedgerTransfer
{
    public static readonly IReadOnlyDictionary<string, string> NoMetadata = FrozenDictionary<string, string>.Empty;

    public UInt128 Id { get; init; }

    public UInt128 DebitAccountId { get; init; }

    public UInt128 CreditAccountId { get; init; }

    /// <summary>Minor units. &gt; 0, except for post (0 = the full hold) and void (0 or the held amount).</summary>
    public long Amount { get; init; }

    public string Currency { get; init; } = "";

    /// <summary>For a post or void: the id of the hold.</summary>
    public UInt128 PendingId { get; init; }

    public TransferFlags Flags { get; init; }

    /// <summary>For a hold: seconds until it expires by itself (0 = never).</summary>
    public uint TimeoutSeconds { get; init; }

    public uint Code { get; init; }

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = NoMetadata;

    /// <summary>Set by the ledger: when the batch holding this transfer was applied.</summary>
    public long TimestampUnixMs { get; init; }

    public TransferState State { get; init; }

    /// <summary>For a hold: the amount finally posted (0 until posted).</summary>
    public long PostedAmount { get; init; }

    /// <summary>For a hold with a timeout: when it expires (0 = never).</summary>
    public long ExpiresAtUnixMs { get; init; }

    /// <summary>Commit order within the cell, from 1, increasing with every transfer.</summary>
    public long Sequence { get; init; }

    /// <summary>
    /// Which part of a transfer this row is: the whole (both accounts in one partition) or a leg of
    /// a transfer between partitions (docs/internals/cells.md). Set by the ledger; ignored on submit.
    /// </summary>
    public TransferLeg Leg { get; init; }

    /// <summary>The partition the row lives in: its credit account's for a credit leg, else its debit account's.</summary>
    public int PartitionOf(int partitionCount) =>
        LedgerPartitioner.PartitionOf(Leg == TransferLeg.Credit ? CreditAccountId : DebitAccountId, partitionCount);

    public bool IsHold => (Flags & TransferFlags.Pending) != 0;

    public bool IsPost => (Flags & TransferFlags.PostPending) != 0;

    public bool IsVoid => (Flags & TransferFlags.VoidPending) != 0;

    /// <summary>A debit recorded whatever the debit account's limit (see <see cref="TransferFlags.Force"/>).</summary>
    public bool IsForced => (Flags & TransferFlags.Force) != 0;

    public bool Equals(LedgerTransfer? other) =>
        other is not null
        && Id == other.Id && DebitAccountId == other.DebitAccountId && CreditAccountId == other.CreditAccountId
        && Amount == other.Amount && Currency == other.Currency && PendingId == other.PendingId
        && Flags == other.Flags && TimeoutSeconds == other.TimeoutSeconds && Code == other.Code
        && TimestampUnixMs == other.TimestampUnixMs && State == other.State && PostedAmount == other.PostedAmount
        && ExpiresAtUnixMs == other.ExpiresAtUnixMs && Sequence == other.Sequence && Leg == other.Leg
        && MetadataEquals(Metadata, other.Metadata);

    public override int GetHashCode() => HashCode.Combine(Id, Sequence, State);

    /// <summary>Two metadata maps with the same keys and values, in any order.</summary>
    public static bool MetadataEquals(IReadOnlyDictionary<string, string> left, IReadOnlyDictionary<string, string> right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        if (left.Count != right.Count)
        {
            return false;
        }
        foreach (var (key, value) in left)
        {
            if (!right.TryGetValue(key, out var otherValue) || !string.Equals(value, otherValue, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }
}

/// <summary>
/// The outcome of one submitted transfer: OK with the committed transfer (the original one when
/// <see cref="Duplicate"/>), or the reason it was declined (nothing written).
/// </summary>
public sealed record LedgerTransferResult(TransferStatus Status, bool Duplicate, LedgerTransfer? Transfer)
{
    /// <summary>For <see cref="TransferStatus.WrongOwner"/>: why this cell did not serve the partition.</summary>
    public Cells.LedgerRefusal? Refusal { get; init; }

    public bool IsOk => Status == TransferStatus.Ok;
}

/// <summary>One page of an account's transfers, newest first; an empty cursor means no more pages.</summary>
public sealed record LedgerTransferPage(IReadOnlyList<LedgerTransfer> Transfers, string NextCursor);
