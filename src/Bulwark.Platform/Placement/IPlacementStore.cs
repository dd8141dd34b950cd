namespace Bulwark.Platform.Placement;

/// <summary>
/// The map as one read of the store found it: the map, or why it cannot be used, and the store's
/// revision of it (changes whenever the stored bytes change; etcd's mod revision, a hash of the
/// file's bytes for the file store). A read never throws for a bad map: a bad map is a fact to
/// count and log (R1), not a crash.
/// </summary>
public sealed record PlacementRead(long Revision, PlacementMap? Map, PlacementMapException? Error)
{
    /// <summary>Decodes stored bytes into a read.</summary>
    public static PlacementRead Decode(long revision, ReadOnlySpan<byte> value)
    {
        try
        {
            return new PlacementRead(revision, PlacementMapCodec.Decode(value), null);
        }
        catch (PlacementMapException error)
        {
            return new PlacementRead(revision, null, error);
        }
    }
}

/// <summary>The outcome of a compare-and-set: the new stored map, or the read that made it fail.</summary>
public sealed record PlacementWriteResult(bool Succeeded, PlacementRead? Current);

/// <summary>
/// Where the placement map lives: one record, changed only by compare-and-set. etcd in a cluster
/// (<c>/bulwark/placement/map</c>), a file embedded (<see cref="FilePlacementStore"/>).
/// </summary>
public interface IPlacementStore
{
    /// <summary>The stored map now, or null when there is none yet.</summary>
    Task<PlacementRead?> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="map"/> if there is no map yet; otherwise stores nothing. Returns what is stored afterwards.</summary>
    Task<PlacementRead> CreateIfAbsentAsync(PlacementMap map, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the map with <paramref name="next"/> only if the store still holds
    /// <paramref name="expected"/> (same revision) and <paramref name="next"/> is its successor
    /// (version + 1, same cluster). Fails, writing nothing, when either moved.
    /// </summary>
    Task<PlacementWriteResult> ReplaceAsync(PlacementRead expected, PlacementMap next, CancellationToken cancellationToken);

    /// <summary>
    /// The stored map as it changes: the current read first, then every change, and the last
    /// read again each time the store confirms nothing changed (a poll, an etcd progress
    /// notification) — the confirmations are how a watcher knows its view is fresh. Null while
    /// no map is stored. Ends or throws when the store stops answering; the caller starts a new watch.
    /// </summary>
    IAsyncEnumerable<PlacementRead?> WatchAsync(CancellationToken cancellationToken);
}
