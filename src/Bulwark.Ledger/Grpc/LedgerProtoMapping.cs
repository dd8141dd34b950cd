using Bulwark.Ledger.Protos;
using Google.Protobuf.Collections;

namespace Bulwark.Ledger.Grpc;

/// <summary>Converts between the contract's messages and the engine's records.</summary>
public static class LedgerProtoMapping
{
    /// <summary>An unset id (null message) is zero, which every check then refuses.</summary>
    public static UInt128 ToUInt128(this Uint128? id) => id is null ? UInt128.Zero : ((UInt128)id.High << 64) | id.Low;

    public static Uint128 ToProto(this UInt128 id) => new() { High = (ulong)(id >> 64), Low = (ulong)id };

    public static LedgerTransfer ToLedger(this Transfer transfer)
    {
        ArgumentNullException.ThrowIfNull(transfer);
        return new LedgerTransfer
        {
            Id = transfer.Id.ToUInt128(),
            DebitAccountId = transfer.DebitAccountId.ToUInt128(),
            CreditAccountId = transfer.CreditAccountId.ToUInt128(),
            Amount = transfer.Amount,
            Currency = transfer.Currency,
            PendingId = transfer.PendingId.ToUInt128(),
            Flags = (TransferFlags)transfer.Flags,
            TimeoutSeconds = transfer.TimeoutSeconds,
            Code = transfer.Code,
            Metadata = transfer.Metadata.Count == 0 ? LedgerTransfer.NoMetadata : ToDictionary(transfer.Metadata),
            Leg = transfer.Leg,
        };
    }

    public static Transfer ToProto(this LedgerTransfer transfer)
    {
        ArgumentNullException.ThrowIfNull(transfer);
        var proto = new Transfer
        {
            Id = transfer.Id.ToProto(),
            DebitAccountId = transfer.DebitAccountId.ToProto(),
            CreditAccountId = transfer.CreditAccountId.ToProto(),
            Amount = transfer.Amount,
            Currency = transfer.Currency,
            Flags = (uint)transfer.Flags,
            TimeoutSeconds = transfer.TimeoutSeconds,
            Code = transfer.Code,
            TimestampUnixMs = transfer.TimestampUnixMs,
            State = transfer.State,
            PostedAmount = transfer.PostedAmount,
            ExpiresAtUnixMs = transfer.ExpiresAtUnixMs,
            Sequence = transfer.Sequence,
            Leg = transfer.Leg,
        };
        if (transfer.PendingId != UInt128.Zero)
        {
            proto.PendingId = transfer.PendingId.ToProto();
        }
        foreach (var (key, value) in transfer.Metadata)
        {
            proto.Metadata.Add(key, value);
        }
        return proto;
    }

    public static LedgerAccount ToLedger(this Account account)
    {
        ArgumentNullException.ThrowIfNull(account);
        return new LedgerAccount
        {
            Id = account.Id.ToUInt128(),
            Currency = account.Currency,
            Flags = (AccountFlags)account.Flags,
            OverdraftLimit = account.OverdraftLimit,
            Code = account.Code,
            DebitsPending = account.DebitsPending,
            DebitsPosted = account.DebitsPosted,
            CreditsPending = account.CreditsPending,
            CreditsPosted = account.CreditsPosted,
        };
    }

    public static Account ToProto(this LedgerAccount account)
    {
        ArgumentNullException.ThrowIfNull(account);
        return new Account
        {
            Id = account.Id.ToProto(),
            Currency = account.Currency,
            Flags = (uint)account.Flags,
            OverdraftLimit = account.OverdraftLimit,
            Code = account.Code,
            DebitsPending = account.DebitsPending,
            DebitsPosted = account.DebitsPosted,
            CreditsPending = account.CreditsPending,
            CreditsPosted = account.CreditsPosted,
            CreatedAtUnixMs = account.CreatedAtUnixMs,
        };
    }

    private static Dictionary<string, string> ToDictionary(MapField<string, string> metadata)
    {
        var result = new Dictionary<string, string>(metadata.Count, StringComparer.Ordinal);
        foreach (var (key, value) in metadata)
        {
            result[key] = value;
        }
        return result;
    }
}
