namespace Bulwark.Config.Storage;

/// <summary>
/// One change of a key: a value, or a tombstone (<see cref="Deleted"/>, empty value). Its
/// <see cref="Revision"/> is the store-wide revision it took, and the key's version while it is
/// the key's latest change.
/// </summary>
public sealed record ConfigChange(string Key, string Value, long Revision, bool Deleted, long ChangedAtUnixMs, string ChangedBy, string Reason);

/// <summary>The store's revision (its latest change; 0 when empty) and the revision history was last compacted at (0: never).</summary>
public sealed record ConfigStoreState(long Revision, long CompactedRevision);

/// <summary>A key's latest change (null: the store has never held the key) and the store's revision when it was read.</summary>
public sealed record ConfigRead(ConfigChange? Latest, long Revision);

/// <summary>What a put or a delete did.</summary>
public enum ConfigWriteOutcome
{
    /// <summary>The change was committed: <see cref="ConfigWriteResult.Change"/> holds it.</summary>
    Written,

    /// <summary>The key's version was not the expected one (or the key holds a value where none was expected).</summary>
    VersionMismatch,

    /// <summary>A delete of a key the store has never held.</summary>
    NeverHeld,

    /// <summary>A delete of a key whose latest change is already a tombstone.</summary>
    AlreadyDeleted,
}

/// <summary>
/// A write's outcome: the committed change when <see cref="Outcome"/> is
/// <see cref="ConfigWriteOutcome.Written"/>, else the key's latest change (null when never held),
/// so that a refusal can name the current version.
/// </summary>
public sealed record ConfigWriteResult(ConfigWriteOutcome Outcome, ConfigChange? Change, ConfigChange? Current);

/// <summary>
/// A page of every key under a prefix at one revision. No page could be read when
/// <see cref="Compacted"/> (the revision is below the compacted revision: its snapshot is gone) or
/// <see cref="Ahead"/> (the revision is above the store's).
/// </summary>
public sealed record ConfigListPage(IReadOnlyList<ConfigChange> Entries, long Revision, bool More, bool Compacted, bool Ahead, ConfigStoreState State);

/// <summary>A page of a key's changes, newest first; <see cref="EverHeld"/> is false when the store has never held the key.</summary>
public sealed record ConfigHistoryPage(IReadOnlyList<ConfigChange> Changes, long CompactedRevision, bool More, bool EverHeld);

/// <summary>
/// Changes after a revision, in revision order, read in one snapshot with the store's state:
/// when fewer than asked came back, the reader has seen everything up to <see cref="ConfigStoreState.Revision"/>.
/// </summary>
public sealed record ConfigChanges(IReadOnlyList<ConfigChange> Changes, ConfigStoreState State);

/// <summary>What a compaction did: the compacted revision afterwards and how many changes it removed.</summary>
public sealed record ConfigCompaction(long CompactedRevision, long Removed, bool AboveRevision, long Revision);
