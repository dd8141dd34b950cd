using System.Buffers.Binary;
using Bulwark.Ledger.Protos;
using Microsoft.Data.Sqlite;

namespace Bulwark.Ledger.Storage;

/// <summary>Maps rows to records and ids to their 16-byte big-endian form.</summary>
internal static class SqliteRows
{
    public static byte[] IdBytes(UInt128 id)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        return bytes;
    }

    public static UInt128 ReadId(SqliteDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return UInt128.Zero;
        }
        var length = reader.GetBytes(ordinal, 0, null, 0, 0);
        if (length != 16)
        {
            throw new InvalidDataException($"An id column holds {length} bytes, not 16.");
        }
        var bytes = new byte[16];
        reader.GetBytes(ordinal, 0, bytes, 0, 16);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>Reads the columns of <see cref="SqliteLedgerSchema.TransferColumns"/>, in that order.</summary>
    public static LedgerTransfer ReadTransfer(SqliteDataReader reader) => new()
    {
        Sequence = reader.GetInt64(0),
        Id = ReadId(reader, 1),
        DebitAccountId = ReadId(reader, 2),
        CreditAccountId = ReadId(reader, 3),
        Amount = reader.GetInt64(4),
        Currency = reader.GetString(5),
        PendingId = ReadId(reader, 6),
        Flags = (TransferFlags)reader.GetInt64(7),
        TimeoutSeconds = checked((uint)reader.GetInt64(8)),
        Code = checked((uint)reader.GetInt64(9)),
        Metadata = MetadataJson.Parse(reader.IsDBNull(10) ? null : reader.GetString(10)),
        TimestampUnixMs = reader.GetInt64(11),
        State = (TransferState)reader.GetInt64(12),
        PostedAmount = reader.GetInt64(13),
        ExpiresAtUnixMs = reader.GetInt64(14),
        Leg = (TransferLeg)reader.GetInt64(15),
    };

    /// <summary>Reads the columns of <see cref="SqliteLedgerSchema.OwedLegColumns"/>, in that order.</summary>
    public static OwedCreditLeg ReadOwedLeg(SqliteDataReader reader) => new(
        (int)reader.GetInt64(1),
        new LedgerTransfer
        {
            Id = ReadId(reader, 0),
            DebitAccountId = ReadId(reader, 2),
            CreditAccountId = ReadId(reader, 3),
            Amount = reader.GetInt64(4),
            Currency = reader.GetString(5),
            Code = checked((uint)reader.GetInt64(6)),
            Metadata = MetadataJson.Parse(reader.IsDBNull(7) ? null : reader.GetString(7)),
            TimestampUnixMs = reader.GetInt64(8),
            State = TransferState.Posted,
            Leg = TransferLeg.Credit,
        },
        (OwedLegState)reader.GetInt64(9));

    /// <summary>Reads the columns of <see cref="SqliteLedgerSchema.AccountColumns"/>, in that order.</summary>
    public static LedgerAccount ReadAccount(SqliteDataReader reader) => new()
    {
        Id = ReadId(reader, 0),
        Currency = reader.GetString(1),
        Flags = (AccountFlags)reader.GetInt64(2),
        OverdraftLimit = reader.GetInt64(3),
        Code = checked((uint)reader.GetInt64(4)),
        DebitsPending = reader.GetInt64(5),
        DebitsPosted = reader.GetInt64(6),
        CreditsPending = reader.GetInt64(7),
        CreditsPosted = reader.GetInt64(8),
        CreatedAtUnixMs = reader.GetInt64(9),
    };

    /// <summary>A command prepared once and reused with new parameter values for every row.</summary>
    public static SqliteCommand Prepare(SqliteConnection connection, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        command.Prepare();
        return command;
    }
}
