using System.Data.Common;
using System.Text;

namespace Bulwark.Config.Storage;

/// <summary>
/// The configuration store's logic, written once for both databases in SQL they share (named
/// <c>@parameters</c>, <c>LIMIT</c>, correlated subqueries), so that the SQLite and PostgreSQL stores
/// cannot drift apart. A store supplies connections, its two kinds of transaction and its schema.
/// <para>
/// Tables: <c>config_state</c> holds one row — the store's revision counter and its compacted
/// revision; <c>config_changes</c> holds every change (puts and tombstones) keyed by revision, with
/// an index on (key, revision). A write takes the state row first (PostgreSQL: <c>FOR UPDATE</c>,
/// SQLite: the one IMMEDIATE writer), so writers are serialised: each takes the next revision, the
/// compare-and-set check cannot race, and changes commit in revision order — a reader that sees
/// revision N sees every change up to N, which is what lets a watcher poll for "revision above N".
/// A failed check rolls back and takes no revision.
/// </para>
/// </summary>
public abstract class SqlConfigStore : IConfigStore
{
    /// <summary>Upper bound of a prefix's key range: above every character a key may hold (<c>[a-z0-9._/-]</c>).</summary>
    private const string PrefixRangeEnd = "~";

    private const string ChangeColumns = "config_key, value, revision, deleted, changed_at_unix_ms, changed_by, reason";

    /// <summary>Opens a connection with the store's settings applied.</summary>
    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Starts a transaction that reads one consistent snapshot.</summary>
    protected abstract Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Starts a write transaction (SQLite: IMMEDIATE, the one writer).</summary>
    protected abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>What locks the state row for the rest of a write transaction when it is read: <c>FOR UPDATE</c> on PostgreSQL, nothing on SQLite (already the only writer).</summary>
    protected abstract string LockStateClause { get; }

    public async Task<ConfigStoreState> StateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadStateAsync(connection, null, lockRow: false, cancellationToken);
    }

    public async Task<ConfigRead> GetAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginReadAsync(connection, cancellationToken);
        var state = await ReadStateAsync(connection, transaction, lockRow: false, cancellationToken);
        var latest = await LatestAsync(connection, transaction, key, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new ConfigRead(latest, state.Revision);
    }

    public Task<ConfigWriteResult> PutAsync(string key, string value, long expectedVersion, string changedBy, string reason, long nowUnixMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        return WriteAsync(key, current =>
        {
            var holdsValue = current is { Deleted: false };
            var matches = current is null ? expectedVersion == 0
                : expectedVersion == current.Revision || (expectedVersion == 0 && !holdsValue);
            return matches ? ConfigWriteOutcome.Written : ConfigWriteOutcome.VersionMismatch;
        }, value, deleted: false, changedBy, reason, nowUnixMs, cancellationToken);
    }

    public Task<ConfigWriteResult> DeleteAsync(string key, long expectedVersion, string changedBy, string reason, long nowUnixMs, CancellationToken cancellationToken) =>
        WriteAsync(key, current => current switch
        {
            null => ConfigWriteOutcome.NeverHeld,
            { Deleted: true } => ConfigWriteOutcome.AlreadyDeleted,
            _ when current.Revision != expectedVersion => ConfigWriteOutcome.VersionMismatch,
            _ => ConfigWriteOutcome.Written,
        }, "", deleted: true, changedBy, reason, nowUnixMs, cancellationToken);

    private async Task<ConfigWriteResult> WriteAsync(string key, Func<ConfigChange?, ConfigWriteOutcome> check, string value, bool deleted,
        string changedBy, string reason, long nowUnixMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(changedBy);
        ArgumentNullException.ThrowIfNull(reason);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        // The state row first: from here until commit this is the only writer.
        var state = await ReadStateAsync(connection, transaction, lockRow: true, cancellationToken);
        var current = await LatestAsync(connection, transaction, key, cancellationToken);
        var outcome = check(current);
        if (outcome != ConfigWriteOutcome.Written)
        {
            await transaction.RollbackAsync(cancellationToken);
            return new ConfigWriteResult(outcome, null, current);
        }
        var change = new ConfigChange(key, value, state.Revision + 1, deleted, nowUnixMs, changedBy, reason);
        await using (var insert = Command(connection, transaction, $"INSERT INTO config_changes ({ChangeColumns}) VALUES (@key, @value, @revision, @deleted, @at, @by, @reason)",
            ("key", key), ("value", value), ("revision", change.Revision), ("deleted", deleted), ("at", nowUnixMs), ("by", changedBy), ("reason", reason)))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var advance = Command(connection, transaction, "UPDATE config_state SET revision = @revision WHERE id = 1", ("revision", change.Revision)))
        {
            await advance.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new ConfigWriteResult(ConfigWriteOutcome.Written, change, current);
    }

    public async Task<ConfigListPage> ListAsync(string prefix, string afterKey, int limit, long atRevision, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(afterKey);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(atRevision);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginReadAsync(connection, cancellationToken);
        var state = await ReadStateAsync(connection, transaction, lockRow: false, cancellationToken);
        var at = atRevision == 0 ? state.Revision : atRevision;
        if (at < state.CompactedRevision || at > state.Revision)
        {
            await transaction.CommitAsync(cancellationToken);
            return new ConfigListPage([], at, More: false, Compacted: at < state.CompactedRevision, Ahead: at > state.Revision, state);
        }
        // Each key's latest change at the revision: one at or below it with none after it (up to it).
        await using var query = Command(connection, transaction,
            $"SELECT {ChangeColumns} FROM config_changes c " +
            "WHERE c.config_key >= @prefix AND c.config_key < @end AND c.config_key > @after AND c.revision <= @at " +
            "AND NOT EXISTS (SELECT 1 FROM config_changes d WHERE d.config_key = c.config_key AND d.revision > c.revision AND d.revision <= @at) " +
            "ORDER BY c.config_key LIMIT @limit",
            ("prefix", prefix), ("end", prefix + PrefixRangeEnd), ("after", afterKey), ("at", at), ("limit", (long)limit + 1));
        var (entries, more) = await ReadPageAsync(query, limit, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new ConfigListPage(entries, at, more, Compacted: false, Ahead: false, state);
    }

    public async Task<ConfigHistoryPage> HistoryAsync(string key, long beforeRevision, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(beforeRevision);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginReadAsync(connection, cancellationToken);
        var state = await ReadStateAsync(connection, transaction, lockRow: false, cancellationToken);
        await using var query = Command(connection, transaction,
            $"SELECT {ChangeColumns} FROM config_changes WHERE config_key = @key AND revision < @before ORDER BY revision DESC LIMIT @limit",
            ("key", key), ("before", beforeRevision == 0 ? long.MaxValue : beforeRevision), ("limit", (long)limit + 1));
        var (changes, more) = await ReadPageAsync(query, limit, cancellationToken);
        // Compaction keeps every key's latest change, so a key with no change at all was never held.
        var everHeld = changes.Count > 0 || (beforeRevision != 0 && await LatestAsync(connection, transaction, key, cancellationToken) is not null);
        await transaction.CommitAsync(cancellationToken);
        return new ConfigHistoryPage(changes, state.CompactedRevision, more, everHeld);
    }

    public async Task<ConfigChanges> ChangesAfterAsync(string prefix, long afterRevision, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginReadAsync(connection, cancellationToken);
        var state = await ReadStateAsync(connection, transaction, lockRow: false, cancellationToken);
        await using var query = Command(connection, transaction,
            $"SELECT {ChangeColumns} FROM config_changes WHERE revision > @after AND revision <= @revision " +
            "AND config_key >= @prefix AND config_key < @end ORDER BY revision LIMIT @limit",
            ("after", afterRevision), ("revision", state.Revision), ("prefix", prefix), ("end", prefix + PrefixRangeEnd), ("limit", (long)limit));
        var changes = new List<ConfigChange>();
        await using (var reader = await query.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                changes.Add(ReadChange(reader));
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return new ConfigChanges(changes, state);
    }

    public async Task<ConfigCompaction> CompactAsync(long revision, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(revision);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        // Serialised with writers (the state row), so the revision checked is the one compacted against.
        var state = await ReadStateAsync(connection, transaction, lockRow: true, cancellationToken);
        if (revision > state.Revision || revision <= state.CompactedRevision)
        {
            await transaction.RollbackAsync(cancellationToken);
            return new ConfigCompaction(state.CompactedRevision, 0, AboveRevision: revision > state.Revision, state.Revision);
        }
        long removed;
        await using (var delete = Command(connection, transaction,
            "DELETE FROM config_changes WHERE revision <= @at AND EXISTS (SELECT 1 FROM config_changes d " +
            "WHERE d.config_key = config_changes.config_key AND d.revision > config_changes.revision AND d.revision <= @at)",
            ("at", revision)))
        {
            removed = await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var record = Command(connection, transaction, "UPDATE config_state SET compacted_revision = @at WHERE id = 1", ("at", revision)))
        {
            await record.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new ConfigCompaction(revision, removed, AboveRevision: false, state.Revision);
    }

    /// <summary>
    /// The rows of a query asked for one more than <paramref name="limit"/>: at most
    /// <paramref name="limit"/> of them, and fewer when their size would pass
    /// <see cref="ConfigLimits.PageBytesMax"/> (never fewer than one), with whether more follow.
    /// </summary>
    private static async Task<(IReadOnlyList<ConfigChange> Rows, bool More)> ReadPageAsync(DbCommand query, int limit, CancellationToken cancellationToken)
    {
        var rows = new List<ConfigChange>();
        long bytes = 0;
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var change = ReadChange(reader);
            bytes += EncodedSizeBound(change);
            if (rows.Count == limit || (rows.Count > 0 && bytes > ConfigLimits.PageBytesMax))
            {
                return (rows, true);
            }
            rows.Add(change);
        }
        return (rows, false);
    }

    /// <summary>An upper bound of a change's size on the wire: its text in UTF-8 plus room for field tags, lengths and numbers.</summary>
    public static long EncodedSizeBound(ConfigChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        const int FramingBytesMax = 64;
        return Encoding.UTF8.GetByteCount(change.Key) + Encoding.UTF8.GetByteCount(change.Value)
            + Encoding.UTF8.GetByteCount(change.ChangedBy) + Encoding.UTF8.GetByteCount(change.Reason) + FramingBytesMax;
    }

    private async Task<ConfigStoreState> ReadStateAsync(DbConnection connection, DbTransaction? transaction, bool lockRow, CancellationToken cancellationToken)
    {
        await using var query = Command(connection, transaction,
            "SELECT revision, compacted_revision FROM config_state WHERE id = 1" + (lockRow ? LockStateClause : ""));
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            // The first migration inserts the row and nothing deletes it.
            throw new InvalidOperationException("The configuration store has no state row (config_state): its schema is damaged.");
        }
        return new ConfigStoreState(reader.GetInt64(0), reader.GetInt64(1));
    }

    private static async Task<ConfigChange?> LatestAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken)
    {
        await using var query = Command(connection, transaction,
            $"SELECT {ChangeColumns} FROM config_changes WHERE config_key = @key ORDER BY revision DESC LIMIT 1", ("key", key));
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadChange(reader) : null;
    }

    private static ConfigChange ReadChange(DbDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetBoolean(3), reader.GetInt64(4), reader.GetString(5), reader.GetString(6));

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
        return command;
    }
}
