using Bulwark.Ledger.Cells;
using Bulwark.Ledger.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Ledger;

/// <summary>
/// A cell's identity and ownership records read from outside a running bank, read-only and in one
/// read transaction, for <see cref="PlacementConsistency"/>: the same rows
/// <see cref="ILedgerStore.LoadCell"/> reads, without opening (and so migrating) the store.
/// </summary>
public static class LedgerCellRecords
{
    /// <summary>The record of the SQLite store at <paramref name="path"/>; null when there is no file or it is no cell's yet.</summary>
    public static LedgerCellRecord? ReadSqlite(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            return null;
        }
        using var connection = new SqliteDatabase(path).OpenReadOnly();
        using var snapshot = connection.BeginTransaction(deferred: true);
        using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        // A store from before cells (or before moves) lacks the tables: it has no record (or no imports) yet.
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('cell_identity', 'partition_imports')";
        var tables = new HashSet<string>(StringComparer.Ordinal);
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }
        if (!tables.Contains("cell_identity"))
        {
            return null;
        }
        command.CommandText = "SELECT (SELECT value FROM cell_identity WHERE key = 'cell'), coalesce((SELECT value FROM cell_identity WHERE key = 'cluster_id'), '')";
        string cell;
        string clusterId;
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            if (reader.IsDBNull(0))
            {
                return null;
            }
            cell = reader.GetString(0);
            clusterId = reader.GetString(1);
        }
        command.CommandText = "SELECT partition, epoch, state, owner_cell, owner_epoch FROM partition_owners ORDER BY partition";
        var rows = new List<PartitionOwnership>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                rows.Add(new PartitionOwnership((int)reader.GetInt64(0), reader.GetInt64(1), (OwnershipState)reader.GetInt64(2), reader.GetString(3), reader.GetInt64(4)));
            }
        }
        var imports = new List<PartitionImportRecord>();
        if (tables.Contains("partition_imports"))
        {
            command.CommandText = "SELECT partition, source_cell, source_epoch, watermark, state FROM partition_imports ORDER BY partition";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                imports.Add(new PartitionImportRecord((int)reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), (ImportRecordState)reader.GetInt64(4), []));
            }
        }
        return new LedgerCellRecord(cell, clusterId, rows) { Imports = imports };
    }
}
