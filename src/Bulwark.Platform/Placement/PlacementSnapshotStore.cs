using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Bulwark.Platform.Placement;

/// <summary>
/// A placement store (etcd, in a cluster) with the last map it gave kept in a local file, as
/// discovery keeps its snapshot (R5): a process that starts while the store does not answer (every
/// etcd member hung, the process restarted by the supervisor) routes on the map it last saw
/// instead of refusing every ledger call until the store is back. Reads and watches go to the
/// store; every good map read is written to the file (only when its bytes changed); a read the
/// store fails is answered from the file when there is one, and fails as the store did when not.
/// Writes go to the store only: the file is a copy, never the truth.
/// </summary>
public sealed partial class PlacementSnapshotStore(IPlacementStore store, string snapshotPath, TimeProvider time, ILogger<PlacementSnapshotStore> logger) : IPlacementStore
{
    /// <summary>
    /// How long a read waits for the store before it answers from the file (when there is one):
    /// etcd tries member after member before it fails, so a hung etcd of nine members takes
    /// twenty seconds to say so — a process restarted meanwhile would wait that long to route,
    /// and a ledger cell to start. As discovery's start (about 1.5 s) does.
    /// </summary>
    public static readonly TimeSpan StoreWaitBeforeSnapshot = TimeSpan.FromSeconds(1.5);

    private readonly FilePlacementStore _snapshot = new(snapshotPath, time);
    private readonly Lock _lock = new();
    private long _savedRevision = -1;

    /// <summary>The file the last good map is kept in.</summary>
    public string SnapshotPath => _snapshot.FilePath;

    public async Task<PlacementRead?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reading = store.ReadAsync(cancellationToken);
            if (!reading.IsCompleted && await Task.WhenAny(reading, Task.Delay(StoreWaitBeforeSnapshot, time, cancellationToken)).ConfigureAwait(false) != reading
                && await ReadSnapshotAsync(cancellationToken).ConfigureAwait(false) is { Map: { } kept } snapshot)
            {
                // The store's read goes on; what it finds (or why it failed) is left to the next read.
                _ = reading.ContinueWith(static task => task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                LogSnapshotUsed(kept.Version, SnapshotPath, $"no answer within {StoreWaitBeforeSnapshot.TotalSeconds:0.0} s");
                return snapshot;
            }
            var read = await reading.ConfigureAwait(false);
            await SaveAsync(read, cancellationToken).ConfigureAwait(false);
            return read;
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested && error is not OperationCanceledException)
        {
            var kept = await ReadSnapshotAsync(cancellationToken).ConfigureAwait(false);
            if (kept?.Map is null)
            {
                throw;
            }
            LogSnapshotUsed(kept.Map.Version, SnapshotPath, error.Message);
            return kept;
        }
    }

    /// <summary>
    /// The store's map, waited for as long as the store takes to answer or fail (never the file's
    /// copy), and kept in the file: for a command that must act on the map as it is now (an
    /// operator's check, <c>cluster down</c> keeping the map before etcd stops), where the file's
    /// copy may be older than a move.
    /// </summary>
    public async Task<PlacementRead?> ReadFromStoreAsync(CancellationToken cancellationToken)
    {
        var read = await store.ReadAsync(cancellationToken).ConfigureAwait(false);
        await SaveAsync(read, cancellationToken).ConfigureAwait(false);
        return read;
    }

    /// <summary>The map kept in the file, or null when there is none (or it cannot be read).</summary>
    public async Task<PlacementRead?> ReadSnapshotAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _snapshot.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            LogSnapshotUnreadable(SnapshotPath, error.Message);
            return null;
        }
    }

    public Task<PlacementRead> CreateIfAbsentAsync(PlacementMap map, CancellationToken cancellationToken) => store.CreateIfAbsentAsync(map, cancellationToken);

    public Task<PlacementWriteResult> ReplaceAsync(PlacementRead expected, PlacementMap next, CancellationToken cancellationToken) => store.ReplaceAsync(expected, next, cancellationToken);

    public async IAsyncEnumerable<PlacementRead?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var read in store.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            await SaveAsync(read, cancellationToken).ConfigureAwait(false);
            yield return read;
        }
    }

    /// <summary>Keeps a good map whose store revision is new to this process; a failed write is logged, never thrown (the copy is a convenience).</summary>
    private async Task SaveAsync(PlacementRead? read, CancellationToken cancellationToken)
    {
        if (read?.Map is not { } map)
        {
            return;
        }
        lock (_lock)
        {
            if (_savedRevision == read.Revision)
            {
                return;
            }
            _savedRevision = read.Revision;
        }
        try
        {
            if (await _snapshot.ReadAsync(cancellationToken).ConfigureAwait(false) is { Map: { } old }
                && old.Version >= map.Version && string.Equals(old.ClusterId, map.ClusterId, StringComparison.Ordinal))
            {
                return;
            }
            WriteAtomically(PlacementMapCodec.Encode(map));
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            LogSnapshotUnwritable(SnapshotPath, error.Message);
        }
    }

    /// <summary>A 0600 temporary file renamed over the snapshot: a reader sees the old copy or the new one, never half of one.</summary>
    private void WriteAtomically(byte[] bytes) => AtomicFile.Write(SnapshotPath, bytes, durable: false);

    [LoggerMessage(EventId = 3311, Level = LogLevel.Warning, Message = "Placement store not answering ({Problem}): routing on placement map version {Version} kept in {Path} until it does")]
    private partial void LogSnapshotUsed(long version, string path, string problem);

    [LoggerMessage(EventId = 3312, Level = LogLevel.Warning, Message = "Placement map snapshot {Path} cannot be read: {Problem}")]
    private partial void LogSnapshotUnreadable(string path, string problem);

    [LoggerMessage(EventId = 3313, Level = LogLevel.Warning, Message = "Placement map snapshot {Path} cannot be written: {Problem}")]
    private partial void LogSnapshotUnwritable(string path, string problem);
}
