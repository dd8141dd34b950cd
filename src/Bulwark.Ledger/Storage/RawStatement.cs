using System.Buffers.Binary;
using Bulwark.Ledger.Protos;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Bulwark.Ledger.Storage;

/// <summary>
/// A statement prepared once on the writer's connection and driven through SQLite's own API
/// (SQLitePCLRaw, the layer Microsoft.Data.Sqlite itself sits on): parameters bound by position,
/// no per-execution reader object, no parameter-name lookups. The writer executes three
/// statements per transfer, and measured on this machine Microsoft.Data.Sqlite's per-execution
/// overhead (binding by name, a data reader per call) was most of the cost of a transfer; see
/// docs/internals/ledger.md. It shares the connection, and so the transaction, with the
/// Microsoft.Data.Sqlite objects around it.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _database;
    private readonly sqlite3_stmt _statement;

    public RawStatement(SqliteConnection connection, string sql)
    {
        _database = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(_database, sql, out _statement), _database);
    }

    public void Bind(int index, long value) => Check(raw.sqlite3_bind_int64(_statement, index, value));

    public void Bind(int index, string value) => Check(raw.sqlite3_bind_text(_statement, index, value));

    public void BindBlob(int index, ReadOnlySpan<byte> value) => Check(raw.sqlite3_bind_blob(_statement, index, value));

    public void BindNull(int index) => Check(raw.sqlite3_bind_null(_statement, index));

    public void BindId(int index, UInt128 id)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        Check(raw.sqlite3_bind_blob(_statement, index, bytes));
    }

    /// <summary>Runs a statement that returns no rows; returns the rows it changed.</summary>
    public int Execute()
    {
        try
        {
            var result = raw.sqlite3_step(_statement);
            if (result != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(result, _database);
            }
            return raw.sqlite3_changes(_database);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>Steps once; true when a row is available to read. Call <see cref="Reset"/> when done.</summary>
    public bool Step()
    {
        var result = raw.sqlite3_step(_statement);
        if (result == raw.SQLITE_ROW)
        {
            return true;
        }
        if (result != raw.SQLITE_DONE)
        {
            raw.sqlite3_reset(_statement);
            SqliteException.ThrowExceptionForRC(result, _database);
        }
        return false;
    }

    public void Reset() => raw.sqlite3_reset(_statement);

    public long Int64(int column) => raw.sqlite3_column_int64(_statement, column);

    public bool IsNull(int column) => raw.sqlite3_column_type(_statement, column) == raw.SQLITE_NULL;

    public string Text(int column) => raw.sqlite3_column_text(_statement, column).utf8_to_string();

    public UInt128 Id(int column)
    {
        if (IsNull(column))
        {
            return UInt128.Zero;
        }
        var bytes = raw.sqlite3_column_blob(_statement, column);
        if (bytes.Length != 16)
        {
            throw new InvalidDataException($"An id column holds {bytes.Length} bytes, not 16.");
        }
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>Reads the columns of <see cref="SqliteLedgerSchema.TransferColumns"/>, in that order.</summary>
    public LedgerTransfer Transfer() => new()
    {
        Sequence = Int64(0),
        Id = Id(1),
        DebitAccountId = Id(2),
        CreditAccountId = Id(3),
        Amount = Int64(4),
        Currency = Text(5),
        PendingId = Id(6),
        Flags = (TransferFlags)Int64(7),
        TimeoutSeconds = checked((uint)Int64(8)),
        Code = checked((uint)Int64(9)),
        Metadata = MetadataJson.Parse(IsNull(10) ? null : Text(10)),
        TimestampUnixMs = Int64(11),
        State = (TransferState)Int64(12),
        PostedAmount = Int64(13),
        ExpiresAtUnixMs = Int64(14),
        Leg = (TransferLeg)Int64(15),
    };

    public void Dispose() => _statement.Dispose();

    private void Check(int result)
    {
        if (result != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(result, _database);
        }
    }
}
