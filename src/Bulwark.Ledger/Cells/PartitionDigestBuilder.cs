using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
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
