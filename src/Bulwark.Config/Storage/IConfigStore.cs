namespace Bulwark.Config.Storage;

/// <summary>
/// The configuration service's store: versioned keys with a store-wide revision. Any
/// implementation that keeps these promises (SQLite embedded, PostgreSQL shared by several
/// instances) can stand behind the service:
/// <list type="bullet">
/// <item>Every change takes the next revision (1, 2, 3 …) inside its own write transaction; a
/// revision is never given to two changes and never goes back. Writers are serialised, so
/// changes commit in revision order: a reader that sees revision N has every change up to N.</item>
/// <item>Writes are compare-and-set on the key's version (the revision of its latest change).</item>
/// <item>A delete writes a tombstone; compaction never removes a key's latest change, so a key the
/// store has ever held always has one, and "never held" stays distinguishable from "deleted" (R14).</item>
/// <item>Every write is durable when its task completes.</item>
/// </list>
/// Arguments are validated by the service; the store trusts them.
/// </summary>
public interface IConfigStore
{
    /// <summary>The store's revision and compacted revision.</summary>
    Task<ConfigStoreState> StateAsync(CancellationToken cancellationToken);

    /// <summary>The key's latest change (a value or a tombstone; null when never held) and the revision it was read at.</summary>
    Task<ConfigRead> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a value when the key's version is <paramref name="expectedVersion"/>, or when
    /// <paramref name="expectedVersion"/> is 0 and the key holds no value (never held, or tombstoned).
    /// </summary>
    Task<ConfigWriteResult> PutAsync(string key, string value, long expectedVersion, string changedBy, string reason, long nowUnixMs, CancellationToken cancellationToken);

    /// <summary>Writes a tombstone when the key holds a value at version <paramref name="expectedVersion"/>.</summary>
    Task<ConfigWriteResult> DeleteAsync(string key, long expectedVersion, string changedBy, string reason, long nowUnixMs, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> keys under <paramref name="prefix"/> after
    /// <paramref name="afterKey"/> in ordinal key order, each key's latest change at
    /// <paramref name="atRevision"/> (0: the current revision), tombstones included.
    /// </summary>
    Task<ConfigListPage> ListAsync(string prefix, string afterKey, int limit, long atRevision, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> of a key's changes below <paramref name="beforeRevision"/> (0: from the newest), newest first.</summary>
    Task<ConfigHistoryPage> HistoryAsync(string key, long beforeRevision, int limit, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> changes under <paramref name="prefix"/> with a revision above <paramref name="afterRevision"/>, oldest first.</summary>
    Task<ConfigChanges> ChangesAfterAsync(string prefix, long afterRevision, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Removes every change at or below <paramref name="revision"/> that a later change of the same
    /// key at or below it supersedes: each key keeps its latest change as of <paramref name="revision"/>
    /// (value or tombstone) and every change after it, so a snapshot at any revision from
    /// <paramref name="revision"/> on can still be read. Refused (<see cref="ConfigCompaction.AboveRevision"/>)
    /// above the store's revision; a revision at or below the compacted one removes nothing.
    /// </summary>
    Task<ConfigCompaction> CompactAsync(long revision, CancellationToken cancellationToken);
}
