using System.Runtime.CompilerServices;

namespace Bulwark.Platform.Placement;

/// <summary>
/// The placement map of an embedded bank: a file (<c>DATA/placement.json</c>). Replaced whole and
/// atomically (a 0600 temporary file, fsync, rename over the map, fsync of the directory), so a
/// reader sees the old map or the new one, never half of one, and a crash keeps one of them.
/// Changes take an exclusive lock file beside it, so two processes' compare-and-sets cannot
/// interleave. Watched by polling, which needs nothing from the file system but reads.
/// </summary>
public sealed class FilePlacementStore(string path, TimeProvider time, FilePlacementStoreOptions? options = null) : IPlacementStore
{
    private readonly string _path = Path.GetFullPath(path);
    private readonly FilePlacementStoreOptions _options = options ?? new FilePlacementStoreOptions();

    public string FilePath => _path;

    public async Task<PlacementRead?> ReadAsync(CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(_path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        return PlacementRead.Decode(RevisionOf(bytes), bytes);
    }

    public async Task<PlacementRead> CreateIfAbsentAsync(PlacementMap map, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(map);
        using var held = await LockAsync(cancellationToken).ConfigureAwait(false);
        if (await ReadAsync(cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return existing;
        }
        var bytes = PlacementMapCodec.Encode(map);
        WriteAtomically(bytes);
        return new PlacementRead(RevisionOf(bytes), map, null);
    }

    public async Task<PlacementWriteResult> ReplaceAsync(PlacementRead expected, PlacementMap next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(next);
        PlacementStoreRules.CheckSuccessor(expected, next);
        using var held = await LockAsync(cancellationToken).ConfigureAwait(false);
        var current = await ReadAsync(cancellationToken).ConfigureAwait(false);
        if (!PlacementStoreRules.StillHolds(current, expected))
        {
            return new PlacementWriteResult(false, current);
        }
        var bytes = PlacementMapCodec.Encode(next);
        WriteAtomically(bytes);
        return new PlacementWriteResult(true, new PlacementRead(RevisionOf(bytes), next, null));
    }

    public async IAsyncEnumerable<PlacementRead?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromMilliseconds(_options.PollIntervalMilliseconds);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return await ReadAsync(cancellationToken).ConfigureAwait(false);
            await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A 63-bit FNV-1a hash of the bytes: equal bytes, equal revision; a change of the file changes it.</summary>
    private static long RevisionOf(ReadOnlySpan<byte> bytes)
    {
        var hash = 14695981039346656037UL;
        foreach (var value in bytes)
        {
            hash ^= value;
            hash *= 1099511628211UL;
        }
        return (long)(hash & long.MaxValue);
    }

    private void WriteAtomically(byte[] bytes) => AtomicFile.Write(_path, bytes, durable: true);

    /// <summary>Takes the lock file (<c>placement.json.lock</c>), waiting up to the limit; another process holding it is waited for, not broken.</summary>
    private async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var lockPath = _path + ".lock";
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var started = time.GetTimestamp();
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (time.GetElapsedTime(started) < TimeSpan.FromSeconds(_options.LockWaitSeconds))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Limits of <see cref="FilePlacementStore"/>.</summary>
public sealed record FilePlacementStoreOptions
{
    /// <summary>How often a watch reads the file: a change is seen within this, and each read confirms the view.</summary>
    public int PollIntervalMilliseconds { get; init; } = 250;

    /// <summary>How long a change waits for another process's lock before giving up with an error.</summary>
    public double LockWaitSeconds { get; init; } = 10;
}

/// <summary>The compare-and-set rules every store applies alike.</summary>
public static class PlacementStoreRules
{
    /// <summary>A replacement must be the expected map's successor: same bank, version + 1 (programmer error otherwise).</summary>
    public static void CheckSuccessor(PlacementRead expected, PlacementMap next)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(next);
        if (expected.Map is { } map && (next.Version != map.Version + 1 || !string.Equals(next.ClusterId, map.ClusterId, StringComparison.Ordinal)))
        {
            throw new ArgumentException($"the new map must be version {map.Version + 1} of cluster {map.ClusterId}, got version {next.Version} of {next.ClusterId}", nameof(next));
        }
    }

    /// <summary>True when the store still holds what the caller read: same revision and same map version.</summary>
    public static bool StillHolds(PlacementRead? current, PlacementRead expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return current is not null && current.Revision == expected.Revision && current.Map?.Version == expected.Map?.Version;
    }
}
