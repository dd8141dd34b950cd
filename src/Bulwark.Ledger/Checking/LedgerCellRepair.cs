using Bulwark.Ledger.Protos;
using Bulwark.Ledger.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Ledger;

/// <summary>
/// Repairs that are provably safe on copies of a ledger's cells taken one after another (a backup):
/// a credit leg marked delivered in the debit cell's copy whose credit leg no copy holds was
/// delivered after the credit cell was copied. Marking it owed again makes the bank that starts on
/// the copies deliver it again; delivery is idempotent by leg id, so it is written exactly once.
/// </summary>
public static class LedgerCellRepair
{
    /// <summary>Reopens such legs in the SQLite cells of <paramref name="cells"/>; returns how many.</summary>
    public static int ReopenLegsNotDelivered(IReadOnlyList<LedgerCellSource> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var paths = cells.Where(cell => cell.SqlitePath is not null).Select(cell => cell.SqlitePath!).ToArray();
        if (paths.Length < 2)
        {
            // One cell delivers nothing to another: its credit legs are written with their debit legs.
            return 0;
        }
        var credited = new HashSet<UInt128>();
        foreach (var path in paths)
        {
            using var connection = new SqliteDatabase(path).OpenReadOnly();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT id FROM transfers WHERE leg = 2";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                credited.Add(SqliteRows.ReadId(reader, 0));
            }
        }
        var reopened = 0;
        foreach (var path in paths)
        {
            using var connection = new SqliteDatabase(path).Open();
            using var transaction = connection.BeginTransaction();
            var delivered = new List<UInt128>();
            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = $"SELECT id FROM credit_legs_owed WHERE state = {(int)OwedLegState.Delivered}";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    delivered.Add(SqliteRows.ReadId(reader, 0));
                }
            }
            using (var update = connection.CreateCommand())
            {
                update.Transaction = transaction;
                update.CommandText = $"UPDATE credit_legs_owed SET state = {(int)OwedLegState.Owed} WHERE id = $id";
                var id = update.Parameters.Add("$id", SqliteType.Blob);
                foreach (var leg in delivered.Where(leg => !credited.Contains(leg)))
                {
                    id.Value = SqliteRows.IdBytes(leg);
                    reopened += update.ExecuteNonQuery();
                }
            }
            transaction.Commit();
            CheckpointIntoTheFile(connection, path);
        }
        return reopened;
    }

    /// <summary>
    /// Moves what was just committed from the copy's write-ahead log into its database file. The
    /// copy is in WAL mode (the backup API copies the live file's header) and this connection is
    /// pooled, so without this the reopened legs would sit in <c>-wal</c> until the process exits:
    /// a backup's manifest lists and hashes the database files alone, so its restore would either
    /// lose them (the legs never delivered again) or find the file changed since its manifest.
    /// </summary>
    private static void CheckpointIntoTheFile(SqliteConnection connection, string path)
    {
        using var checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        using var reader = checkpoint.ExecuteReader();
        if (!reader.Read() || reader.GetInt64(0) != 0)
        {
            throw new IOException($"Cannot move the repair of {path} from its write-ahead log into the file: another connection is reading it.");
        }
    }
}
