using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;

namespace Bulwark.Ledger.Cells;

/// <summary>
/// The digest a move compares between a partition's owner and its copy: every account, every
/// transfer row and every owed credit leg of the partition, each in a fixed binary form hashed with
/// SHA-256, summed lane by lane (four 64-bit lanes, modulo 2^64): a multiset hash, so rows may be
/// fed in any order (a store streams them as its indexes give them, without sorting) while a row
/// missing, added twice or different in any field changes the sum. A row's cell-local sequence is
/// left out (a copy numbers rows its own way); everything else — balances, states, posted amounts,
/// expiry, metadata by sorted key — is in, and the counts of each kind close the digest. Both
/// stores feed it from their own rows, so two stores of different kinds holding the same money
/// hash the same.
/// <para>
/// Because the sum does not care about order, a digest can be taken in two parts (see
/// <see cref="PartitionDigestPrefix"/>): the settled transfer rows — those that can never change
/// again — hashed beforehand, beside the writer, and the rest when it counts.
/// </para>
/// </summary>
public sealed class PartitionDigestBuilder
{
    private readonly ulong[] _sum = new ulong[4];
    private byte[] _buffer = new byte[512];
    private int _length;
    private long _accounts;
    private long _transfers;
    private long _owedLegs;
    private long _lastSequence;

    /// <summary>A builder that goes on from <paramref name="prefix"/>: its settled rows are already in the sum.</summary>
    public static PartitionDigestBuilder From(PartitionDigestPrefix prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var builder = new PartitionDigestBuilder
        {
            _transfers = prefix.Transfers,
            _owedLegs = prefix.OwedLegs,
            _lastSequence = prefix.LastSequence,
        };
        prefix.Lanes.AsSpan().CopyTo(builder._sum);
        return builder;
    }

    /// <summary>
    /// What was added so far, as the prefix of a later digest: only settled transfer rows and owed
    /// legs may have been added, every transfer row with a sequence at or below <paramref name="throughSequence"/>.
    /// </summary>
    public PartitionDigestPrefix Prefix(int partition, long throughSequence, IReadOnlyList<(UInt128 Id, TransferLeg Leg)> pending,
        IReadOnlyList<UInt128> openOwedLegs, IReadOnlySet<UInt128> settledOwedLegs)
    {
        if (_accounts != 0)
        {
            throw new InvalidOperationException("A digest's prefix holds settled rows only: accounts change with every transfer.");
        }
        return new PartitionDigestPrefix(partition, [.. _sum], _transfers, _owedLegs, _lastSequence, throughSequence, pending, openOwedLegs, settledOwedLegs);
    }

    /// <summary>
    /// Whether <paramref name="transfer"/> can never change again, so it may be hashed into a
    /// prefix: every row but a pending hold (a hold's post, void or expiry rewrites its state and
    /// posted amount; nothing rewrites any other row).
    /// </summary>
    public static bool IsSettled(LedgerTransfer transfer)
    {
        ArgumentNullException.ThrowIfNull(transfer);
        return transfer.State != TransferState.Pending;
    }

    /// <summary>Whether an owed leg can never change again: once delivered or returned it is not touched.</summary>
    public static bool IsSettled(OwedCreditLeg owed)
    {
        ArgumentNullException.ThrowIfNull(owed);
        return owed.State != OwedLegState.Owed;
    }

    public void AddAccount(LedgerAccount account)
    {
        ArgumentNullException.ThrowIfNull(account);
        Byte((byte)'A');
        Id(account.Id);
        Text(account.Currency);
        Int64((long)account.Flags);
        Int64(account.OverdraftLimit);
        Int64(account.Code);
        Int64(account.DebitsPending);
        Int64(account.DebitsPosted);
        Int64(account.CreditsPending);
        Int64(account.CreditsPosted);
        Int64(account.CreatedAtUnixMs);
        Row();
        _accounts++;
    }

    public void AddTransfer(LedgerTransfer transfer)
    {
        ArgumentNullException.ThrowIfNull(transfer);
        Byte((byte)'T');
        Id(transfer.Id);
        Int64((long)transfer.Leg);
        Id(transfer.DebitAccountId);
        Id(transfer.CreditAccountId);
        Int64(transfer.Amount);
        Text(transfer.Currency);
        Id(transfer.PendingId);
        Int64((long)transfer.Flags);
        Int64(transfer.TimeoutSeconds);
        Int64(transfer.Code);
        Int64(transfer.TimestampUnixMs);
        Int64((long)transfer.State);
        Int64(transfer.PostedAmount);
        Int64(transfer.ExpiresAtUnixMs);
        Metadata(transfer.Metadata);
        Row();
        _transfers++;
        _lastSequence = Math.Max(_lastSequence, transfer.Sequence);
    }

    public void AddOwedLeg(OwedCreditLeg owed)
    {
        ArgumentNullException.ThrowIfNull(owed);
        var leg = owed.Leg;
        Byte((byte)'O');
        Id(leg.Id);
        Int64(owed.Partition);
        Id(leg.DebitAccountId);
        Id(leg.CreditAccountId);
        Int64(leg.Amount);
        Text(leg.Currency);
        Int64(leg.Code);
        Int64(leg.TimestampUnixMs);
        Int64((long)owed.State);
        Metadata(leg.Metadata);
        Row();
        _owedLegs++;
    }

    public PartitionDigestValue Finish()
    {
        Byte((byte)'E');
        for (var lane = 0; lane < 4; lane++)
        {
            Int64((long)_sum[lane]);
        }
        Int64(_accounts);
        Int64(_transfers);
        Int64(_owedLegs);
        var digest = SHA256.HashData(_buffer.AsSpan(0, _length));
        _length = 0;
        return new PartitionDigestValue(digest, _accounts, _transfers, _owedLegs, _lastSequence);
    }

    private void Row()
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(_buffer.AsSpan(0, _length), hash);
        for (var lane = 0; lane < 4; lane++)
        {
            _sum[lane] += BinaryPrimitives.ReadUInt64BigEndian(hash[(lane * 8)..]);
        }
        _length = 0;
    }

    private void Metadata(IReadOnlyDictionary<string, string> metadata)
    {
        Int64(metadata.Count);
        foreach (var key in metadata.Keys.Order(StringComparer.Ordinal))
        {
            Text(key);
            Text(metadata[key]);
        }
    }

    private void Byte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    private void Int64(long value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    private void Id(UInt128 value)
    {
        Ensure(16);
        BinaryPrimitives.WriteUInt128BigEndian(_buffer.AsSpan(_length), value);
        _length += 16;
    }

    private void Text(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value ?? "");
        Int64(count);
        Ensure(count);
        _length += Encoding.UTF8.GetBytes(value ?? "", _buffer.AsSpan(_length));
    }

    private void Ensure(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }
    }
}

/// <summary>
/// The part of a partition's digest taken beforehand (a move hashes it before its pause, on a reader
/// snapshot, beside the writer): the lane sums of what of <see cref="Partition"/> was settled in the
/// snapshot and can never change again — <see cref="Transfers"/> transfer rows (all but pending
/// holds; the highest sequence among them <see cref="LastSequence"/>) and <see cref="OwedLegs"/> owed
/// legs (delivered or returned). <see cref="ThroughSequence"/> is the partition's highest sequence
/// in the snapshot, <see cref="Pending"/> its rows at or below it still pending, and
/// <see cref="OpenOwedLegs"/> the owed legs still open (<see cref="SettledOwedLegs"/>: the ids of those hashed).
/// <para>
/// The whole digest is then this plus, read when it counts: every account, the transfer rows above
/// <see cref="ThroughSequence"/>, the rows of <see cref="Pending"/> and the owed legs of
/// <see cref="OpenOwedLegs"/> as they are by then, and the owed legs of the DEBIT rows above
/// <see cref="ThroughSequence"/> not already hashed (an owed leg is written in the same batch as its
/// debit leg, and a copy imports it with its debit leg or before it, so a leg missing from the
/// snapshot has its debit leg above it). Valid while no row at or below <see cref="ThroughSequence"/> is deleted: the
/// writer forgets a prefix when it deletes rows of the partition, and it lives only in memory, so
/// after a restart (or a store restored under the process) everything is hashed again.
/// </para>
/// </summary>
public sealed record PartitionDigestPrefix(int Partition, ulong[] Lanes, long Transfers, long OwedLegs, long LastSequence, long ThroughSequence,
    IReadOnlyList<(UInt128 Id, TransferLeg Leg)> Pending, IReadOnlyList<UInt128> OpenOwedLegs, IReadOnlySet<UInt128> SettledOwedLegs)
{
    /// <summary>The owed legs a digest from this prefix reads: those open in the snapshot and those of <paramref name="newDebitLegs"/> (debit rows above it) not hashed already.</summary>
    public IReadOnlyList<UInt128> OwedLegsToRead(IEnumerable<UInt128> newDebitLegs) =>
        OpenOwedLegs.Concat(newDebitLegs.Where(id => !SettledOwedLegs.Contains(id))).Distinct().ToList();
}
